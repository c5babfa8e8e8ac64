//! The safetensors file format, which PyTorch and the Hugging Face hub use for weights, read and
//! written for minitorch's checkpoints and for the compile-time check of `#[weights]` files.
//!
//! A file is three parts:
//!
//! ```text
//! N                 8 bytes: the header's length, a little-endian u64
//! header            N bytes of JSON: {"0.weight": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]},
//!                                     …, "__metadata__": {"optimizer": "Adam"}}
//! data              every tensor's bytes (little-endian, row-major) at its offsets, which tile
//!                   the data from 0 to its end with no gap and no overlap
//! ```
//!
//! This crate exists apart because two crates read the format, the library and its proc-macro
//! crate, and a proc-macro crate can export nothing but macros. It reads by hand the little JSON
//! a header holds: using this crate instead of `safetensors`, with its serde and serde_json, took
//! a crate embedding a model from 100 s to 62 s of compile CPU (docs/performance.md, "Build
//! time").
//!
//! ```
//! use minitorch_safetensors::{Dtype, SafeTensors, serialize};
//! let values: Vec<u8> = [1.0f32, 2.0, 3.0].iter().flat_map(|v| v.to_le_bytes()).collect();
//! let bytes = serialize([("bias", Dtype::F32, &[3][..], &values[..])], &[]).unwrap();
//! let file = SafeTensors::deserialize(&bytes).unwrap();
//! let bias = file.tensor("bias").unwrap();
//! assert_eq!((bias.dtype(), bias.shape(), bias.data()), (Dtype::F32, &[3][..], &values[..]));
//! ```

use std::fmt;

/// How deep a header's JSON nests at most (the header, a tensor, its shape); deeper input is
/// refused before recursion could exhaust the stack.
const MAX_DEPTH: usize = 3;

/// What went wrong, in words: which part of the file, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError(String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

fn error(message: impl Into<String>) -> FormatError {
    FormatError(message.into())
}

/// A tensor's element type, named as in the header.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// `BOOL`, one byte.
    Bool,
    /// `U8`.
    U8,
    /// `I8`.
    I8,
    /// `F8_E5M2`.
    F8E5M2,
    /// `F8_E4M3`.
    F8E4M3,
    /// `I16`.
    I16,
    /// `U16`.
    U16,
    /// `F16`.
    F16,
    /// `BF16`.
    BF16,
    /// `I32`.
    I32,
    /// `U32`.
    U32,
    /// `F32`, minitorch's parameters and statistics.
    F32,
    /// `F64`.
    F64,
    /// `I64`, PyTorch's counts (`num_batches_tracked`).
    I64,
    /// `U64`.
    U64,
}

impl Dtype {
    const ALL: [Dtype; 15] = [
        Dtype::Bool,
        Dtype::U8,
        Dtype::I8,
        Dtype::F8E5M2,
        Dtype::F8E4M3,
        Dtype::I16,
        Dtype::U16,
        Dtype::F16,
        Dtype::BF16,
        Dtype::I32,
        Dtype::U32,
        Dtype::F32,
        Dtype::F64,
        Dtype::I64,
        Dtype::U64,
    ];

    /// Its name in a header: `F32`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Bool => "BOOL",
            Dtype::U8 => "U8",
            Dtype::I8 => "I8",
            Dtype::F8E5M2 => "F8_E5M2",
            Dtype::F8E4M3 => "F8_E4M3",
            Dtype::I16 => "I16",
            Dtype::U16 => "U16",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::I32 => "I32",
            Dtype::U32 => "U32",
            Dtype::F32 => "F32",
            Dtype::F64 => "F64",
            Dtype::I64 => "I64",
            Dtype::U64 => "U64",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::Bool | Dtype::U8 | Dtype::I8 | Dtype::F8E5M2 | Dtype::F8E4M3 => 1,
            Dtype::I16 | Dtype::U16 | Dtype::F16 | Dtype::BF16 => 2,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 4,
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|dtype| dtype.name() == name)
    }
}

/// The bytes a tensor of `dtype` and `shape` takes, if that is a number a machine can hold.
fn byte_count(dtype: Dtype, shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(dtype.size(), |count, &extent| count.checked_mul(extent))
}

/// The header's name, so that messages read `F32 [3, 4]`.
impl fmt::Debug for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One tensor of a file: its element type, shape and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorView<'data> {
    dtype: Dtype,
    shape: Vec<usize>,
    data: &'data [u8],
}

impl<'data> TensorView<'data> {
    /// Its element type.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Its shape; empty for a scalar.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Its bytes, little-endian and row-major.
    pub fn data(&self) -> &'data [u8] {
        self.data
    }
}

/// A file's tensors, by name, and its metadata.
#[derive(Clone, Debug)]
pub struct SafeTensors<'data> {
    /// Sorted by name.
    tensors: Vec<(String, TensorView<'data>)>,
    metadata: Vec<(String, String)>,
}

impl<'data> SafeTensors<'data> {
    /// Reads a whole file, checking everything a reader relies on: the header's length and JSON,
    /// every tensor's known dtype and a byte count that matches its shape, and offsets that tile
    /// the data exactly.
    ///
    /// # Errors
    /// What is wrong, and where.
    pub fn deserialize(bytes: &'data [u8]) -> Result<Self, FormatError> {
        let length: [u8; 8] = bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| error(format!("{} bytes are too few for the header's length", bytes.len())))?;
        let length = u64::from_le_bytes(length);
        let available = bytes.len() as u64 - 8;
        // Nothing is allocated from the claimed length, so it needs no limit but the file's.
        if length > available {
            return Err(error(format!(
                "the header claims {length} bytes, but the file has {available} after its length"
            )));
        }
        let (header, data) = bytes[8..].split_at(length as usize);
        let header =
            std::str::from_utf8(header).map_err(|e| error(format!("the header is not UTF-8: {e}")))?;
        let Json::Object(header_entries) = Parser::new(header).document()? else {
            return Err(error("the header is not a JSON object"));
        };

        let mut entries = Vec::new();
        let mut metadata = Vec::new();
        for (name, value) in header_entries {
            if name == "__metadata__" {
                metadata = read_metadata(value)?;
            } else {
                entries.push(read_tensor_entry(name, value)?);
            }
        }
        check_tiling(&mut entries, data.len())?;

        let mut views = Vec::with_capacity(entries.len());
        for Entry { name, dtype, shape, start, end } in entries {
            if byte_count(dtype, &shape) != Some(end - start) {
                return Err(error(format!(
                    "tensor `{name}`: {dtype:?} {shape:?} takes another byte count than its {} bytes",
                    end - start
                )));
            }
            views.push((name, TensorView { dtype, shape, data: &data[start..end] }));
        }
        views.sort_by(|(a, _), (b, _)| a.cmp(b));
        if let Some(pair) = views.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(error(format!("the header names tensor `{}` twice", pair[0].0)));
        }
        Ok(SafeTensors { tensors: views, metadata })
    }

    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorView<'data>> {
        let index = self.tensors.binary_search_by(|(known, _)| known.as_str().cmp(name)).ok()?;
        Some(&self.tensors[index].1)
    }

    /// Every tensor's name, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.tensors().map(|(name, _)| name).collect()
    }

    /// Every tensor with its name, sorted by name.
    pub fn tensors(&self) -> impl Iterator<Item = (&str, &TensorView<'data>)> {
        self.tensors.iter().map(|(name, view)| (name.as_str(), view))
    }

    /// The value of the metadata entry `key`.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(known, _)| known == key).map(|(_, value)| value.as_str())
    }
}

/// `{"key": "value", …}`.
fn read_metadata(value: Json) -> Result<Vec<(String, String)>, FormatError> {
    let Json::Object(entries) = value else {
        return Err(error("`__metadata__` is not an object of strings"));
    };
    entries
        .into_iter()
        .map(|(key, value)| match value {
            Json::String(text) => Ok((key, text)),
            _ => Err(error(format!("metadata `{key}` is not a string"))),
        })
        .collect()
}

/// A tensor as its header entry describes it: its bytes are `start..end` of the data.
struct Entry {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    start: usize,
    end: usize,
}

/// `{"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]}`.
fn read_tensor_entry(name: String, value: Json) -> Result<Entry, FormatError> {
    let Json::Object(fields) = value else {
        return Err(error(format!("tensor `{name}`: its entry is not an object")));
    };
    let (mut dtype, mut shape, mut offsets) = (None, None, None);
    for (key, value) in fields {
        match (key.as_str(), value) {
            ("dtype", Json::String(text)) => {
                let known = Dtype::from_name(&text)
                    .ok_or_else(|| error(format!("tensor `{name}`: unknown dtype `{text}`")))?;
                dtype = Some(known);
            }
            ("shape", Json::Array(items)) => shape = Some(integers(&name, "shape", items)?),
            ("data_offsets", Json::Array(items)) => match integers(&name, "data_offsets", items)?[..] {
                [start, end] if start <= end => offsets = Some((start, end)),
                _ => return Err(error(format!("tensor `{name}`: `data_offsets` is not [start, end]"))),
            },
            (other, _) => return Err(error(format!("tensor `{name}`: unexpected or malformed `{other}`"))),
        }
    }
    match (dtype, shape, offsets) {
        (Some(dtype), Some(shape), Some((start, end))) => Ok(Entry { name, dtype, shape, start, end }),
        _ => Err(error(format!("tensor `{name}`: `dtype`, `shape` and `data_offsets` are all needed"))),
    }
}

fn integers(name: &str, field: &str, items: Vec<Json>) -> Result<Vec<usize>, FormatError> {
    items
        .into_iter()
        .map(|item| match item {
            Json::Integer(value) => usize::try_from(value).ok(),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| error(format!("tensor `{name}`: `{field}` holds something other than a count")))
}

/// Sorts `entries` by where their bytes start, and checks that they cover `0..data_length` one
/// after another.
fn check_tiling(entries: &mut [Entry], data_length: usize) -> Result<(), FormatError> {
    entries.sort_by_key(|entry| (entry.start, entry.end));
    let mut next = 0;
    for Entry { name, start, end, .. } in entries.iter() {
        if *start != next {
            return Err(error(format!(
                "tensor `{name}` starts at byte {start} of the data, where {next} was expected: \
                 tensors must follow one another"
            )));
        }
        next = *end;
    }
    if next != data_length {
        return Err(error(format!("the tensors end at byte {next} of the data, which holds {data_length}")));
    }
    Ok(())
}

/// A file of `tensors` (name, dtype, shape, bytes) and `metadata`, as PyTorch's
/// `safetensors.torch.load_file` reads it. As the reference implementation writes them, the
/// tensors go by decreasing element size and then by name, so that each starts aligned to its
/// element size; the header is padded with spaces to a multiple of 8 bytes.
///
/// # Errors
/// A tensor whose bytes do not match its dtype and shape, or a name given twice.
pub fn serialize<'a>(
    tensors: impl IntoIterator<Item = (&'a str, Dtype, &'a [usize], &'a [u8])>,
    metadata: &[(String, String)],
) -> Result<Vec<u8>, FormatError> {
    let mut tensors: Vec<_> = tensors.into_iter().collect();
    let mut names: Vec<&str> = tensors.iter().map(|(name, ..)| *name).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(error(format!("tensor `{}` is given twice", pair[0])));
    }
    tensors.sort_by(|a, b| b.1.size().cmp(&a.1.size()).then(a.0.cmp(b.0)));
    let mut header = String::from("{");
    if !metadata.is_empty() {
        let mut sorted: Vec<&(String, String)> = metadata.iter().collect();
        sorted.sort();
        let entries: Vec<String> = sorted
            .iter()
            .map(|(key, value)| format!("{}:{}", json_string(key), json_string(value)))
            .collect();
        header.push_str(&format!("\"__metadata__\":{{{}}},", entries.join(",")));
    }
    let mut offset = 0;
    for (name, dtype, shape, bytes) in &tensors {
        if byte_count(*dtype, shape) != Some(bytes.len()) {
            return Err(error(format!(
                "tensor `{name}`: {dtype:?} {shape:?} does not take {} bytes",
                bytes.len()
            )));
        }
        let shape: Vec<String> = shape.iter().map(usize::to_string).collect();
        header.push_str(&format!(
            "{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{offset},{}]}},",
            json_string(name),
            dtype.name(),
            shape.join(","),
            offset + bytes.len()
        ));
        offset += bytes.len();
    }
    if header.ends_with(',') {
        header.pop();
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut file = Vec::with_capacity(8 + header.len() + offset);
    file.extend_from_slice(&(header.len() as u64).to_le_bytes());
    file.extend_from_slice(header.as_bytes());
    for (_, _, _, bytes) in &tensors {
        file.extend_from_slice(bytes);
    }
    Ok(file)
}

/// `text` as a JSON string, quoted and escaped.
fn json_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if u32::from(c) < 0x20 => quoted.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// The JSON a header may hold: objects (in order, duplicates kept for the caller to refuse),
/// arrays, strings and non-negative integers.
#[derive(Debug, PartialEq)]
enum Json {
    Object(Vec<(String, Json)>),
    Array(Vec<Json>),
    String(String),
    Integer(u64),
}

/// A recursive-descent reader of [`Json`] over a header's text.
struct Parser<'text> {
    text: &'text str,
    at: usize,
}

impl<'text> Parser<'text> {
    fn new(text: &'text str) -> Self {
        Self { text, at: 0 }
    }

    /// One value and nothing after it but whitespace.
    fn document(&mut self) -> Result<Json, FormatError> {
        let value = self.value(0)?;
        self.skip_whitespace();
        if self.at != self.text.len() {
            return Err(self.error("text after the header's JSON"));
        }
        Ok(value)
    }

    fn error(&self, what: &str) -> FormatError {
        error(format!("header JSON, byte {}: {what}", self.at))
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), FormatError> {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return Err(self.error(&format!("expected `{}`", byte as char)));
        }
        self.at += 1;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Json, FormatError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{' | b'[') if depth >= MAX_DEPTH => Err(self.error("nested deeper than a header's JSON")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::String),
            Some(b'0'..=b'9') => self.integer(),
            _ => Err(self.error("expected an object, array, string or count")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, FormatError> {
        self.expect(b'{')?;
        let mut entries = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Json::Object(entries));
        }
        loop {
            self.skip_whitespace();
            let key = self.string()?;
            self.expect(b':')?;
            entries.push((key, self.value(depth + 1)?));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Json::Object(entries));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, FormatError> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    fn integer(&mut self) -> Result<Json, FormatError> {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(self.error("a fraction where a count was expected"));
        }
        let digits = &self.text[start..self.at];
        if digits.len() > 1 && digits.starts_with('0') {
            return Err(self.error("a count with a leading zero"));
        }
        digits.parse().map(Json::Integer).map_err(|_| self.error("a count too large"))
    }

    fn string(&mut self) -> Result<String, FormatError> {
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a string"));
        }
        self.at += 1;
        let mut text = String::new();
        loop {
            let rest = &self.text[self.at..];
            let Some(character) = rest.chars().next() else {
                return Err(self.error("a string without its closing quote"));
            };
            self.at += character.len_utf8();
            match character {
                '"' => return Ok(text),
                '\\' => text.push(self.escape()?),
                c if u32::from(c) < 0x20 => return Err(self.error("a control character inside a string")),
                c => text.push(c),
            }
        }
    }

    /// The character after a backslash, which has been read.
    fn escape(&mut self) -> Result<char, FormatError> {
        let escaped = self.peek().ok_or_else(|| self.error("a string ends in a backslash"))?;
        self.at += 1;
        Ok(match escaped {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex_unit()?;
                if (0xD800..0xDC00).contains(&first) {
                    // A high surrogate: the low one must follow as `\uDC00`–`\uDFFF`.
                    if !self.text[self.at..].starts_with("\\u") {
                        return Err(self.error("a lone surrogate in a string"));
                    }
                    self.at += 2;
                    let second = self.hex_unit()?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err(self.error("a lone surrogate in a string"));
                    }
                    let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    char::from_u32(code).ok_or_else(|| self.error("an invalid character"))?
                } else {
                    char::from_u32(first).ok_or_else(|| self.error("a lone surrogate in a string"))?
                }
            }
            _ => return Err(self.error("an unknown escape in a string")),
        })
    }

    /// Four hexadecimal digits.
    fn hex_unit(&mut self) -> Result<u32, FormatError> {
        let digits = self.text.get(self.at..self.at + 4).ok_or_else(|| self.error("a short `\\u` escape"))?;
        let value = u32::from_str_radix(digits, 16).map_err(|_| self.error("a malformed `\\u` escape"))?;
        if digits.starts_with('+') {
            return Err(self.error("a malformed `\\u` escape"));
        }
        self.at += 4;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    fn refusal(bytes: &[u8]) -> String {
        SafeTensors::deserialize(bytes).expect_err("refused").to_string()
    }

    #[test]
    fn a_written_file_reads_back_with_its_metadata() {
        let weight: Vec<u8> = (0..6).flat_map(|v| (v as f32).to_le_bytes()).collect();
        let count = 7i64.to_le_bytes();
        let tensors = [("w", Dtype::F32, &[2, 3][..], &weight[..]), ("n", Dtype::I64, &[][..], &count[..])];
        let metadata = [("optimizer".to_string(), "Adam \"β\"\n".to_string())];
        let bytes = serialize(tensors, &metadata).unwrap();
        let header_length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(header_length % 8, 0);
        // The 8-byte scalar first, so that each tensor starts aligned to its element size.
        assert_eq!(&bytes[8 + header_length..8 + header_length + 8], &count);
        let read = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(read.names(), ["n", "w"]);
        assert_eq!(format!("{:?} {:?}", Dtype::I64, Dtype::F8E4M3), "I64 F8_E4M3");
        let w = read.tensor("w").unwrap();
        assert_eq!((w.dtype(), w.shape(), w.data()), (Dtype::F32, &[2, 3][..], &weight[..]));
        assert_eq!(read.tensor("n").unwrap().shape(), &[] as &[usize]);
        assert_eq!(read.metadata("optimizer"), Some("Adam \"β\"\n"));
        assert_eq!((read.metadata("other"), read.tensor("x")), (None, None));
    }

    #[test]
    fn a_header_as_pytorch_writes_it_reads() {
        let data: Vec<u8> = (0..12).collect();
        let header = "{\"__metadata__\": {\"format\": \"pt\"}, \"b\": {\"dtype\": \"U8\", \"shape\": [4], \
                      \"data_offsets\": [8, 12]}, \"a\": {\"dtype\": \"BF16\", \"shape\": [2, 2], \
                      \"data_offsets\": [0, 8]}, \"caf\\u00e9 \\ud83d\\ude00\": {\"dtype\": \"BOOL\", \
                      \"shape\": [0], \"data_offsets\": [12, 12]}}   ";
        let bytes = file(header, &data);
        let read = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(read.names(), ["a", "b", "café 😀"]);
        assert_eq!(read.tensor("b").unwrap().data(), &[8, 9, 10, 11]);
        assert_eq!(read.tensor("a").unwrap().dtype(), Dtype::BF16);
        assert_eq!(read.metadata("format"), Some("pt"));
    }

    #[test]
    fn the_header_is_compact_json_padded_to_8_bytes() {
        let data = [1u8, 2, 3];
        let bytes = serialize([("a b", Dtype::U8, &[3][..], &data[..])], &[]).unwrap();
        let header = "{\"a b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}";
        assert_eq!(header.len(), 55);
        let padded = format!("{header} ");
        assert_eq!(bytes, file(&padded, &data));
    }

    #[test]
    fn every_escape_reads_as_its_character() {
        let header = r#"{"__metadata__":{"k":"\"\\\/\b\f\n\r\t\u0041\u00e9"}}"#;
        let bytes = file(header, &[]);
        let read = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(read.metadata("k"), Some("\"\\/\u{8}\u{c}\n\r\tAé"));
    }

    #[test]
    fn empty_objects_and_arrays_read() {
        let bytes = file("{}", &[]);
        assert!(SafeTensors::deserialize(&bytes).unwrap().names().is_empty());
        let header = "{ \"__metadata__\" : { } , \"s\" : { \"dtype\" : \"U8\" , \"shape\" : [ ] , \
                      \"data_offsets\" : [ 0 , 1 ] } }";
        let bytes = file(header, &[9]);
        let read = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!((read.tensor("s").unwrap().data(), read.metadata("format")), (&[9][..], None));
    }

    #[test]
    fn every_flaw_is_refused_with_what_and_where() {
        let entry = |offsets: &str| {
            format!("{{\"t\":{{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{offsets}}}}}")
        };
        let cases: [(Vec<u8>, &str); 20] = [
            (vec![1, 0, 0], "3 bytes are too few"),
            (file("{}", &[]).into_iter().take(9).collect(), "claims 2 bytes"),
            (file(&entry("[0,8]"), &[0; 4]), "end at byte 8 of the data, which holds 4"),
            (file(&entry("[0,8]"), &[0; 12]), "end at byte 8 of the data, which holds 12"),
            (file(&entry("[4,12]"), &[0; 12]), "starts at byte 4"),
            (file(&entry("[8,4]"), &[0; 8]), "is not [start, end]"),
            (file(&entry("[0,4]"), &[0; 4]), "another byte count than its 4 bytes"),
            (
                file("{\"t\":{\"dtype\":\"F31\",\"shape\":[],\"data_offsets\":[0,4]}}", &[0; 4]),
                "unknown dtype `F31`",
            ),
            (
                file("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", &[0; 4]),
                "a fraction",
            ),
            (file("{\"t\":{\"dtype\":\"F32\",\"shape\":[]}}", &[]), "are all needed"),
            (
                file("{\"t\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":1}}", &[0; 4]),
                "unexpected",
            ),
            (file("[]", &[]), "not a JSON object"),
            (file("{\"t\":[[[1]]]}", &[]), "nested deeper"),
            (file("{\"a\":\"\\ud800\"}", &[]), "lone surrogate"),
            (file("{} x", &[]), "text after"),
            (file("{\"__metadata__\":{\"k\":1}}", &[]), "metadata `k` is not a string"),
            (file("{\"t\":{\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]}}", &[0]), "leading zero"),
            (file("{\"t\":{\"dtype\":\"U8\",\"shape\":[99999999999999999999]}}", &[]), "too large"),
            (file("{\"a\tb\":{}}", &[]), "a control character"),
            (file("{\"a\":\"\\x\"}", &[]), "unknown escape"),
        ];
        for (bytes, expected) in cases {
            let message = refusal(&bytes);
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
        let twice = "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\
                     \"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}";
        assert!(refusal(&file(twice, &[0; 2])).contains("names tensor `t` twice"));
        let huge = "{\"t\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}";
        assert!(refusal(&file(huge, &[0; 8])).contains("another byte count"));
    }

    #[test]
    fn serialize_refuses_bytes_that_do_not_fit_and_names_given_twice() {
        let four = [0u8; 4];
        let message = serialize([("t", Dtype::F64, &[1][..], &four[..])], &[]).unwrap_err().to_string();
        assert!(message.contains("does not take 4 bytes"), "{message}");
        let twice = [("t", Dtype::U8, &[4][..], &four[..]), ("t", Dtype::F32, &[1][..], &four[..])];
        assert!(serialize(twice, &[]).unwrap_err().to_string().contains("given twice"));
    }

    #[test]
    fn names_with_quotes_and_control_characters_survive_a_round_trip() {
        let name = "a\"b\\c\u{1}d/é";
        let bytes = serialize([(name, Dtype::U8, &[0][..], &[][..])], &[]).unwrap();
        assert_eq!(SafeTensors::deserialize(&bytes).unwrap().names(), [name]);
    }
}
