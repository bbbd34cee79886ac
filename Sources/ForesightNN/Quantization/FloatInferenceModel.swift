// The float32 twin of Int8Model for encoder inference: the same chain of a graph (convolutions
// with fused ReLU, nearest 2x upsampling, a final sigmoid) run over NHWC images with the
// FloatConv2dNHWC tiles; `run` allocates nothing. Not for training (Program does that).

import ForesightCore

/// A chain of a graph run in float32 over NHWC images.
///
/// ```swift
/// let model = try FloatInferenceModel(graph: graph, from: frames, to: encoded, batch: 1,
///                                     parameter: { UnsafePointer(program.tensor($0).floatPointer) })
/// model.run(input: x, output: y)      // [1, 4, 64, 64] -> [1, 32, 16, 16], NCHW
/// ```
public final class FloatInferenceModel: ParallelWork, @unchecked Sendable {
    enum Layer {
        case conv(FloatConv2dNHWC)
        case upsample
    }

    public let batch: Int
    public let outputShape: [Int]
    public let floatSigmoid: Bool
    public var path = FloatKernelPath.best
    private let layers: [Layer]
    private let layouts: [FloatImageLayout]
    private let buffers: [UnsafeMutablePointer<Float>]
    private let memory: UnsafeMutablePointer<Float>
    private let pool: ThreadPool
    private var current = 0

    public init(graph: Graph, from input: TensorID, to output: TensorID, batch: Int,
                parameter: (TensorID) -> UnsafePointer<Float>, threads: Int = 1) throws {
        let stages = try parseChain(graph, from: input, to: output, batch: batch, parameter: parameter)
        self.batch = batch
        floatSigmoid = { if case .sigmoid = stages.last?.operation { true } else { false } }()
        let body = floatSigmoid ? Array(stages.dropLast()) : stages
        func border(after index: Int) -> Int {
            guard index + 1 < body.count, case let .conv(g, _, _, _) = body[index + 1].operation else { return 0 }
            return g.padding
        }
        var layers: [Layer] = []
        var layouts = [FloatImageLayout(height: body[0].inputShape[2], width: body[0].inputShape[3], channels: body[0].inputShape[1], border: border(after: -1))]
        for (index, stage) in body.enumerated() {
            switch stage.operation {
            case let .conv(g, weight, bias, relu) where g.groups == 1:
                layers.append(.conv(FloatConv2dNHWC(g, weights: weight, bias: bias, relu: relu, outputBorder: border(after: index))))
            case .upsampleNearest:
                layers.append(.upsample)
            default:
                throw ModelError.unsupported(node: stage.name, reason: "no NHWC float32 form here (supported: conv2d with ReLU, nearest 2x upsampling, a final sigmoid)")
            }
            layouts.append(FloatImageLayout(height: stage.outputShape[2], width: stage.outputShape[3], channels: stage.outputShape[1],
                                            border: border(after: index)))
        }
        self.layers = layers
        self.layouts = layouts
        outputShape = stages.last!.outputShape
        let sizes = layouts.map { Arena.roundUp(batch * $0.sampleFloats * 4) / 4 }
        memory = .allocate(capacity: sizes.reduce(0, +))
        memory.initialize(repeating: 0, count: sizes.reduce(0, +))      // borders stay zero
        var offset = 0, buffers: [UnsafeMutablePointer<Float>] = []
        for size in sizes { buffers.append(memory + offset); offset += size }
        self.buffers = buffers
        pool = ThreadPool(threads: threads)
    }

    deinit { memory.deallocate() }

    /// input [N, C, H, W] -> output `outputShape`, NCHW float32. Allocates nothing.
    public func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        nchwToNHWC(input, batch: batch, layouts[0], into: buffers[0])
        for index in layers.indices {
            current = index
            switch layers[index] {
            case .conv:
                pool.run(self, chunks: pool.chunks(items: batch * layouts[index + 1].height))
            case .upsample:
                let from = layouts[index], to = layouts[index + 1]
                for sample in 0..<batch {
                    for row in 0..<to.height {
                        let source = buffers[index] + sample * from.sampleFloats + from.offset(y: row / 2, x: 0)
                        let target = buffers[index + 1] + sample * to.sampleFloats + to.offset(y: row, x: 0)
                        for column in 0..<to.width {
                            (target + column * to.channels).update(from: source + (column / 2) * from.channels, count: to.channels)
                        }
                    }
                }
            }
        }
        nhwcToNCHW(buffers[layers.count], batch: batch, layouts[layers.count], into: output)
        if floatSigmoid { sigmoidForward(output, output, count: outputShape.reduce(1, *)) }
    }

    /// Chunk `chunk` of `chunks`: an even share of the layer's output rows (or Winograd tile rows) of all samples.
    public func work(chunk: Int, of chunks: Int, thread: Int) {
        if case let .conv(layer) = layers[current] {
            layer.forward(x: buffers[current], y: buffers[current + 1], path: path, chunk: chunk, of: chunks)
        }
    }
}
