// What every operation of a graph provides: a shape check at build time, its memory needs,
// and forward and backward over memory bound once by the program. Not a tensor library:
// operations see raw views and call the kernels of ForesightCore.

import ForesightCore

/// Concrete memory of one operation, fixed when the program is planned.
public struct Binding: @unchecked Sendable {
    /// Values of the operands, in the graph's order.
    public let inputs: [Tensor]
    /// The produced value.
    public let output: Tensor
    /// Gradients of the operands (nil where none is needed); backward adds into them.
    public let inputGradients: [Tensor?]
    /// Gradient of the output (nil in inference programs).
    public let outputGradient: Tensor?
    /// The operation's own memory that lives from its forward to its backward (statistics, indices).
    public let saved: UnsafeMutablePointer<Float>?
    /// Memory shared by all operations, valid only during one call.
    public let scratch: UnsafeMutablePointer<Float>?
    /// Threads the scratch was sized for.
    public let scratchThreads: Int
}

/// An operation of a static graph.
public protocol GraphOperation: AnyObject {
    /// Checks operand shapes and types and returns the output shape.
    func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape
    /// Floats the operation keeps from forward to backward.
    var savedFloats: Int { get }
    /// Floats of scratch one call needs with `threads` threads.
    func scratchFloats(threads: Int) -> Int
    /// Whether backward reads the operands' values.
    var backwardReadsInputs: Bool { get }
    /// Whether backward reads the output value.
    var backwardReadsOutput: Bool { get }
    /// Receives its memory, once.
    func bind(_ binding: Binding)
    /// Computes the output from the operands.
    func forward(pool: ThreadPool)
    /// Adds the operands' gradients from the output's gradient.
    func backward(pool: ThreadPool)
    /// Multiply-adds (or element operations) of one forward pass, for reports.
    var forwardCost: Int { get }
    /// What the operation becomes in an int8, float32 or ONNX inference model (no default:
    /// every operation states it).
    var inferenceForm: InferenceForm { get }
}

extension GraphOperation {
    public var savedFloats: Int { 0 }
    public func scratchFloats(threads: Int) -> Int { 0 }
    public var backwardReadsInputs: Bool { true }
    public var backwardReadsOutput: Bool { false }
    public var forwardCost: Int { 0 }
}

/// Throws a shape mismatch unless `condition` holds (every operation's checks, NN's and SSL's).
@inline(__always)
package func require(_ condition: Bool, _ operation: String, expected: @autoclosure () -> String, got: @autoclosure () -> String) throws {
    if !condition { throw CoreError.shapeMismatch(operation: operation, expected: expected(), got: got()) }
}

/// Throws unless every operand is float32.
@inline(__always)
package func requireFloat(_ dtypes: [DType], _ operation: String) throws {
    for (index, dtype) in dtypes.enumerated() where dtype != .float32 {
        throw CoreError.shapeMismatch(operation: operation, expected: "float32 operands", got: "\(dtype) operand \(index)")
    }
}

/// Element-wise work below this many elements runs on the calling thread: waking the
/// workers would cost more than it saves.
let parallelElementThreshold = 1 << 15

/// Fewest elements of one chunk of element-wise work (a chunk costs a claim on a shared counter).
let elementsPerChunk = 1 << 13

/// Runs `work` on the pool in chunks of at least `elementsPerChunk` of `count` elements when
/// they are worth splitting, else as one chunk on this thread.
@inline(__always)
func runSplit(_ work: any ParallelWork, count: Int, pool: ThreadPool) {
    if pool.threadCount == 1 || count < parallelElementThreshold {
        work.work(chunk: 0, of: 1, thread: 0)
    } else {
        pool.run(work, chunks: pool.chunks(items: count, minimumPerChunk: elementsPerChunk))
    }
}

/// Chunk `chunk` of `chunks` of `count` elements: (start, length), starts aligned to 16 so that
/// only the last chunk ends in a scalar tail (element values do not depend on the split).
@inline(__always)
func splitRange(_ count: Int, chunk: Int, of chunks: Int) -> (start: Int, length: Int) {
    @inline(__always) func boundary(_ index: Int) -> Int { index == chunks ? count : count * index / chunks / 16 * 16 }
    let start = boundary(chunk)
    return (start, boundary(chunk + 1) - start)
}
