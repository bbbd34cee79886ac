// The self-supervised methods this module implements, by short name, with a one-line
// description and the paper each follows (what `foresight methods` will list). Not a registry
// of trainers: each entry only describes.

/// One self-supervised method: its short name, what it learns from and its reference paper.
///
/// ```swift
/// for method in SSLMethod.all { print(method.name, method.summary) }
/// ```
public struct SSLMethod: Sendable, Equatable {
    /// Short name, as on the command line ("simclr").
    public let name: String
    /// One line on what it learns from.
    public let summary: String
    /// The paper it follows.
    public let reference: String

    /// Every method implemented here, in a stable order.
    public static let all: [SSLMethod] = [
        SSLMethod(name: "simclr", summary: "contrastive: two augmented views of an image attract, the batch's other views repel (NT-Xent)",
                  reference: "Chen, Kornblith, Norouzi, Hinton. A Simple Framework for Contrastive Learning of Visual Representations. ICML 2020"),
        SSLMethod(name: "vicreg", summary: "non-contrastive: views agree while each feature keeps its variance and features decorrelate",
                  reference: "Bardes, Ponce, LeCun. VICReg: Variance-Invariance-Covariance Regularization for Self-Supervised Learning. ICLR 2022"),
        SSLMethod(name: "autoencoder", summary: "reconstruct the image from the encoder's features",
                  reference: "Hinton, Salakhutdinov. Reducing the Dimensionality of Data with Neural Networks. Science 2006"),
        SSLMethod(name: "denoising", summary: "reconstruct the clean image from a copy with noise and a cut-out patch",
                  reference: "Vincent, Larochelle, Bengio, Manzagol. Extracting and Composing Robust Features with Denoising Autoencoders. ICML 2008"),
        SSLMethod(name: "rotation", summary: "classify which quarter-turn was applied to the image",
                  reference: "Gidaris, Singh, Komodakis. Unsupervised Representation Learning by Predicting Image Rotations. ICLR 2018"),
    ]

    /// The method called `name`, if implemented.
    public static func named(_ name: String) -> SSLMethod? { all.first { $0.name == name } }
}
