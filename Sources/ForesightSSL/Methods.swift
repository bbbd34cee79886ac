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
        SSLMethod(name: "moco", summary: "contrastive: a view's query must find the other view's momentum-encoded key among a queue of past keys, so small batches work",
                  reference: "He, Fan, Wu, Xie, Girshick. Momentum Contrast for Unsupervised Visual Representation Learning. CVPR 2020"),
        SSLMethod(name: "clip", summary: "multi-modal contrastive: the camera image and the sound of the same moment match, the batch's other pairs do not",
                  reference: "Radford et al. Learning Transferable Visual Models From Natural Language Supervision. ICML 2021; Arandjelovic, Zisserman. Look, Listen and Learn. ICCV 2017"),
        SSLMethod(name: "byol", summary: "non-contrastive: an online network with a predictor predicts a momentum (EMA) target's projection of the other view",
                  reference: "Grill et al. Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning. NeurIPS 2020"),
        SSLMethod(name: "simsiam", summary: "non-contrastive: like BYOL without the momentum network, a stop-gradient on the other branch",
                  reference: "Chen, He. Exploring Simple Siamese Representation Learning. CVPR 2021"),
        SSLMethod(name: "vicreg", summary: "non-contrastive: views agree while each feature keeps its variance and features decorrelate",
                  reference: "Bardes, Ponce, LeCun. VICReg: Variance-Invariance-Covariance Regularization for Self-Supervised Learning. ICLR 2022"),
        SSLMethod(name: "barlow", summary: "non-contrastive: the cross-correlation of the two views' standardised projections is pulled toward the identity",
                  reference: "Zbontar, Jing, Misra, LeCun, Deny. Barlow Twins: Self-Supervised Learning via Redundancy Reduction. ICML 2021"),
        SSLMethod(name: "mae", summary: "masked modeling: a vision transformer reconstructs the pixels of the 75% of image patches that were hidden",
                  reference: "He, Chen, Xie, Li, Dollar, Girshick. Masked Autoencoders Are Scalable Vision Learners. CVPR 2022"),
        SSLMethod(name: "bert", summary: "masked modeling: a bidirectional transformer predicts the 15% of a text's bytes hidden by a mask from both sides",
                  reference: "Devlin, Chang, Lee, Toutanova. BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding. NAACL 2019"),
        SSLMethod(name: "gpt", summary: "generative: a causal transformer predicts each next byte of a text from the bytes before it, and samples new text",
                  reference: "Radford, Narasimhan, Salimans, Sutskever. Improving Language Understanding by Generative Pre-Training. OpenAI 2018"),
        SSLMethod(name: "next-frame", summary: "predictive coding: predict the next video frame's pixels from the past frames",
                  reference: "Srivastava, Mansimov, Salakhutdinov. Unsupervised Learning of Video Representations using LSTMs. ICML 2015"),
        SSLMethod(name: "motion", summary: "predictive coding: predict the motion field (and a residual) that warps the last frame into the next",
                  reference: "Patraucean, Handa, Cipolla. Spatio-temporal Video Autoencoder with Differentiable Memory. ICLR 2016 workshop"),
        SSLMethod(name: "cpc", summary: "predictive coding: a recurrent context picks its own future latents of video or audio among the batch's (InfoNCE)",
                  reference: "van den Oord, Li, Vinyals. Representation Learning with Contrastive Predictive Coding. arXiv:1807.03748, 2018"),
        SSLMethod(name: "jepa", summary: "latent prediction: from the image with a block hidden, predict a momentum encoder's features of the full image",
                  reference: "Assran et al. Self-Supervised Learning from Images with a Joint-Embedding Predictive Architecture. CVPR 2023"),
        SSLMethod(name: "autoencoder", summary: "reconstruct the image from the encoder's features",
                  reference: "Hinton, Salakhutdinov. Reducing the Dimensionality of Data with Neural Networks. Science 2006"),
        SSLMethod(name: "denoising", summary: "reconstruct the clean image from a copy with noise and a cut-out patch",
                  reference: "Vincent, Larochelle, Bengio, Manzagol. Extracting and Composing Robust Features with Denoising Autoencoders. ICML 2008"),
        SSLMethod(name: "rotation", summary: "pretext: classify which quarter-turn was applied to the image",
                  reference: "Gidaris, Singh, Komodakis. Unsupervised Representation Learning by Predicting Image Rotations. ICLR 2018"),
        SSLMethod(name: "jigsaw", summary: "pretext: classify which of a fixed set of orders shuffled the image's patches, each patch embedded alone",
                  reference: "Noroozi, Favaro. Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles. ECCV 2016"),
        SSLMethod(name: "inpainting", summary: "pretext: reconstruct a masked square of the image from its surroundings (loss on the masked pixels)",
                  reference: "Pathak, Krahenbuhl, Donahue, Darrell, Efros. Context Encoders: Feature Learning by Inpainting. CVPR 2016"),
    ]

    /// The method called `name`, if implemented.
    public static func named(_ name: String) -> SSLMethod? { all.first { $0.name == name } }
}
