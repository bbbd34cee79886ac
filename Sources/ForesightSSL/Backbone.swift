// The small convolutional backbone of the self-supervised methods (residual blocks with
// group norm, so batches of a few images train the same as large ones) and the frozen
// encoder that embeds a labelled set for the probes. Not a model zoo: one family, sized by width.

import ForesightCore
import ForesightNN

/// A small ResNet for small images: stem conv3x3 (width) -> residual block -> conv3x3
/// stride 2 (2 width) -> residual block -> global average pool. Every conv is followed by
/// group norm (`groups` groups) and ReLU; a residual block is relu(x + gn(conv(relu(gn(conv(x)))))).
/// Images [N, C, H, W] -> features [N, 2 width]; an 8x8 digit becomes 4x4 after the stride.
///
/// ```swift
/// let backbone = SmallResNet(width: 16)
/// let features = try backbone.build(graph, images, name: "backbone")   // [N, 1, 8, 8] -> [N, 32]
/// ```
public struct SmallResNet: ImageBackbone {
    /// Channels of the first stage; the second has twice as many.
    public let width: Int
    /// Group-norm groups (divides `width`).
    public let groups: Int

    public init(width: Int = 16, groups: Int = 4) {
        precondition(width > 0 && groups > 0 && width % groups == 0, "width \(width) must be a positive multiple of groups \(groups)")
        self.width = width
        self.groups = groups
    }

    /// Features per image: 2 width.
    public var featureCount: Int { 2 * width }

    public var specification: String { "resnet width=\(width) groups=\(groups)" }

    /// Adds the backbone on `images` [N, C, H, W]; parameters are named `name.*`. Returns [N, 2 width].
    public func build(_ graph: Graph, _ images: TensorID, name: String) throws -> TensorID {
        try graph.apply(GlobalAveragePoolOperation(), [try maps(graph, images, name: name)], name: name + ".pool")
    }

    /// The feature maps before pooling: [N, C, H, W] -> [N, 2 width, ceil(H / 2), ceil(W / 2)];
    /// the same parameters as `build`.
    public func maps(_ graph: Graph, _ images: TensorID, name: String) throws -> TensorID {
        var h = try convNormRelu(graph, images, channels: width, stride: 1, name: name + ".stem")
        h = try residualBlock(graph, h, name: name + ".block1")
        h = try convNormRelu(graph, h, channels: 2 * width, stride: 2, name: name + ".down")
        return try residualBlock(graph, h, name: name + ".block2")
    }

    private func convNormRelu(_ graph: Graph, _ x: TensorID, channels: Int, stride: Int, name: String) throws -> TensorID {
        let h = try graph.conv2d(x, outChannels: channels, kernel: 3, stride: stride, padding: 1, bias: false, name: name + ".conv")
        return try graph.relu(try graph.groupNorm(h, groups: groups, name: name + ".norm"))
    }

    private func residualBlock(_ graph: Graph, _ x: TensorID, name: String) throws -> TensorID {
        let channels = graph.shape(x)[1]
        var h = try convNormRelu(graph, x, channels: channels, stride: 1, name: name + ".a")
        h = try graph.conv2d(h, outChannels: channels, kernel: 3, padding: 1, bias: false, name: name + ".b.conv")
        h = try graph.groupNorm(h, groups: groups, name: name + ".b.norm")
        return try graph.relu(try graph.add(x, h, name: name + ".sum"))
    }
}

/// A backbone run forward only, in batches, with parameters copied by name from another
/// program (a trained method's): frozen embeddings for the probes.
///
/// ```swift
/// let encoder = try FrozenEncoder(backbone: SmallResNet(width: 16), channels: 1, height: 8, width: 8)
/// encoder.copyParameters(from: trainer.program)
/// let train = encoder.embed(trainImages)                 // Embeddings [count, 32]
/// ```
public final class FrozenEncoder {
    public let program: Program
    /// Images written per forward pass.
    public let batch: Int
    private let images: TensorID, features: TensorID
    /// Features per image.
    public let featureCount: Int

    /// Builds the backbone on [batch, channels, height, width] under the parameter prefix
    /// `name`, randomly initialised from `seed` until parameters are copied in.
    public init(backbone: any ImageBackbone, channels: Int, height: Int, width: Int, batch: Int = 64,
                name: String = "backbone", seed: UInt64 = 0) throws {
        let graph = Graph()
        images = try graph.input("images", [batch, channels, height, width])
        features = try backbone.build(graph, images, name: name)
        featureCount = backbone.featureCount
        self.batch = batch
        program = try Program(graph, seed: seed)
    }

    /// Copies every parameter whose name this encoder also has; returns how many were copied.
    @discardableResult
    public func copyParameters(from other: Program) -> Int {
        var copied = 0
        for id in program.parameters {
            guard let source = other.graph.tensor(named: program.graph[id].name) else { continue }
            precondition(other.graph[source].shape == program.graph[id].shape, "\(program.graph[id].name) differs in shape")
            _ = program.tensor(id).floats.update(fromContentsOf: other.tensor(source).floats)
            copied += 1
        }
        return copied
    }

    /// Features of every image of `set`: [count, 2 width]; the last batch is padded with zeros.
    public func embed(_ set: LabeledImages) -> Embeddings {
        let input = program.tensor(images).floats, output = program.tensor(features).floats
        var result = [Float](repeating: 0, count: set.count * featureCount)
        var start = 0
        while start < set.count {
            let taken = min(batch, set.count - start)
            input.update(repeating: 0)
            for i in 0..<taken * set.imageSize { input[i] = set.pixels[start * set.imageSize + i] }
            program.forward()
            for i in 0..<taken * featureCount { result[start * featureCount + i] = output[i] }
            start += taken
        }
        return Embeddings(features: result, labels: set.labels, dimension: featureCount)
    }
}
