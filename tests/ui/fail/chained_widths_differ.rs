use minitorch::prelude::*;

net! {
    struct Encoder< Linear(784, 32) >
    struct Classifier< Linear(784, 10) >
}

fn pipeline(encoder: &mut Encoder, classifier: &mut Classifier, images: &Batch<784>) -> Result<(), Error> {
    let code = encoder.forward(images)?.clone();
    classifier.forward(&code)?;
    Ok(())
}

fn main() {}
