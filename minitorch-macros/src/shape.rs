//! What flows between entries — features, or an image — and how an entry's message names what
//! the entry before it produced.

/// Features, or an image of channels × height × width (whose flat width is their product, in
/// that order).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shape {
    Flat(usize),
    Image { channels: usize, height: usize, width: usize },
}

impl Shape {
    /// The flat width: the `N` of `Batch<N>`.
    pub fn features(self) -> usize {
        match self {
            Shape::Flat(features) => features,
            Shape::Image { channels, height, width } => channels * height * width,
        }
    }

    /// `512` or `32 × 26 × 26`, for documentation and messages.
    pub fn describe(self) -> String {
        match self {
            Shape::Flat(features) => features.to_string(),
            Shape::Image { channels, height, width } => format!("{channels} × {height} × {width}"),
        }
    }
}

/// What an entry follows: the shape coming in and where it comes from.
pub struct Before {
    /// `None` before the first entry of a list that does not start from a known shape.
    pub shape: Option<Shape>,
    /// Whether the entry is first in its network's list (where `Input` may stand).
    pub first: bool,
    pub producer: Producer,
}

/// The entry before, as messages name it.
pub enum Producer {
    /// A layer, or nothing: "the layer before it".
    Layer,
    /// A layer that made a flat shape out of an image (`Flatten`): named with the image.
    FromImage { written: String, channels: usize, height: usize, width: usize },
    /// A residual block.
    Residual,
    /// A concatenation, with its branches' channels (images) or features (flat).
    Concat { parts: Vec<usize> },
}

impl Before {
    /// Who produced the shape: "the layer before it", "`Concat`".
    fn subject(&self) -> String {
        match &self.producer {
            Producer::Layer => "the layer before it".to_string(),
            Producer::FromImage { written, .. } => format!("`{written}`"),
            Producer::Residual => "the `Residual` before it".to_string(),
            Producer::Concat { .. } => "`Concat`".to_string(),
        }
    }

    /// `(8 + 16)` after a `Concat`, with a space in front; empty otherwise.
    fn parts(&self) -> String {
        match &self.producer {
            Producer::Concat { parts } => {
                let parts: Vec<String> = parts.iter().map(ToString::to_string).collect();
                format!(" ({})", parts.join(" + "))
            }
            _ => String::new(),
        }
    }

    /// For an entry that counts features: "the layer before it produces 512", "`Flatten`
    /// produces 9216 (64 channels × 12 × 12)", "`Concat` produces 40 (8 + 32)".
    pub fn produces(&self, shape: Shape) -> String {
        match (&self.producer, shape) {
            (Producer::FromImage { channels, height, width, .. }, Shape::Flat(features)) => {
                let plural = if *channels == 1 { "" } else { "s" };
                format!(
                    "{} produces {features} ({channels} channel{plural} × {height} × {width})",
                    self.subject()
                )
            }
            (_, Shape::Flat(features)) => format!("{} produces {features}{}", self.subject(), self.parts()),
            (_, image) => format!("{} produces an image of {}", self.subject(), image.describe()),
        }
    }

    /// For an entry that counts channels: "the layer before it produces 32 (32 × 26 × 26)",
    /// "`Concat` produces 24 (8 + 16) × 14 × 14".
    pub fn produces_channels(&self, channels: usize, height: usize, width: usize) -> String {
        match &self.producer {
            Producer::Concat { .. } => {
                format!("{} produces {channels}{} × {height} × {width}", self.subject(), self.parts())
            }
            _ => format!("{} produces {channels} ({channels} × {height} × {width})", self.subject()),
        }
    }
}
