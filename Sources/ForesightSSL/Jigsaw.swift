// The pieces of the jigsaw and inpainting pretext tasks: the fixed permutation set (chosen
// greedily for the largest Hamming distance, deterministic), cutting an image into patches in
// one permutation's order and standardising each patch, and masking a square region. Not a
// trainer: PretextTrainer calls these inside its step; nothing here allocates after the
// permutation set is made.
//
// Symbols: C channels, H x W image, G the grid side (G x G patches of (H / G) x (W / G) pixels).

/// A fixed set of permutations of G x G patches for jigsaw classification (Noroozi & Favaro 2016).
/// Permutation k maps destination patch d to source patch `order[k][d]`; patches are numbered
/// row-major. The set starts with the identity and adds, one at a time, the permutation whose
/// smallest Hamming distance to those already chosen is largest (ties: the first in
/// lexicographic order), so the classes are as far apart as the greedy choice allows.
///
/// ```swift
/// let set = try JigsawPermutations(grid: 2, count: 24)   // all 24 orders of 2x2 patches
/// set.order[0]                                            // [0, 1, 2, 3], the identity
/// let set3 = try JigsawPermutations(grid: 3, count: 30)  // 30 of the 362880 orders of 3x3 patches
/// ```
public struct JigsawPermutations: Sendable, Equatable {
    /// Patches per side.
    public let grid: Int
    /// The chosen permutations, [count][grid * grid].
    public let order: [[Int]]
    /// Smallest Hamming distance between two chosen permutations.
    public let minimumDistance: Int

    /// Number of classes.
    public var count: Int { order.count }

    /// Chooses `count` permutations of `grid` x `grid` patches; throws when the grid is not 2 or 3
    /// (a 4x4 grid has 16! orders, too many to search) or `count` is not in 2...(grid^2)!.
    public init(grid: Int, count: Int) throws {
        guard grid == 2 || grid == 3 else {
            throw TrainingError.invalidSetting(name: "grid", message: "jigsaw grid must be 2 or 3 patches per side, got \(grid)")
        }
        let pieces = grid * grid
        let all = JigsawPermutations.allPermutations(pieces) // flat [n!, pieces]
        let total = all.count / pieces
        guard count >= 2 && count <= total else {
            throw TrainingError.invalidSetting(name: "count", message: "a \(grid)x\(grid) jigsaw has \(total) orders; \(count) classes asked (need 2...\(total))")
        }
        // nearest[p]: Hamming distance from candidate p to the closest chosen permutation.
        var nearest = [Int](repeating: Int.max, count: total)
        var chosen = [0] // the identity is first in lexicographic order
        func update(with index: Int) {
            for p in 0..<total {
                var distance = 0
                for d in 0..<pieces where all[p * pieces + d] != all[index * pieces + d] { distance += 1 }
                nearest[p] = min(nearest[p], distance)
            }
        }
        update(with: 0)
        var minimum = Int.max
        while chosen.count < count {
            var best = -1
            for p in 0..<total where nearest[p] > 0 && (best < 0 || nearest[p] > nearest[best]) { best = p }
            minimum = min(minimum, nearest[best])
            chosen.append(best)
            update(with: best)
        }
        self.grid = grid
        order = chosen.map { index in (0..<pieces).map { Int(all[index * pieces + $0]) } }
        minimumDistance = minimum
    }

    /// Every permutation of 0..<n in lexicographic order, one after another: [n!, n].
    static func allPermutations(_ n: Int) -> [UInt8] {
        var result: [UInt8] = []
        var current = (0..<n).map(UInt8.init)
        while true {
            result += current
            // Next lexicographic permutation (Narayana's algorithm).
            var i = n - 2
            while i >= 0 && current[i] >= current[i + 1] { i -= 1 }
            if i < 0 { return result }
            var j = n - 1
            while current[j] <= current[i] { j -= 1 }
            current.swapAt(i, j)
            current[(i + 1)...].reverse()
        }
    }
}

/// Cuts `source` [C, H, W] into its G x G patches of (H / G) x (W / G) pixels and writes them
/// to `destination` [G * G, C, H / G, W / G] in the order `order`: destination patch d is source
/// patch `order[d]` (patches numbered row-major). Rows and columns beyond G * (H / G) (when G does
/// not divide the size) are left out.
///
/// ```swift
/// cutPatches(image, patches, channels: 1, height: 8, width: 8, grid: 2, order: [3, 2, 1, 0])  // 4 x [1, 4, 4]
/// ```
public func cutPatches(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>,
                       channels: Int, height: Int, width: Int, grid: Int, order: [Int]) {
    precondition(order.count == grid * grid && height >= grid && width >= grid,
                 "a \(grid)x\(grid) jigsaw needs \(grid * grid) entries in order (got \(order.count)) and at least \(grid)x\(grid) pixels (got \(height)x\(width))")
    let patchHeight = height / grid, patchWidth = width / grid
    for d in 0..<grid * grid {
        let s = order[d], top = (s / grid) * patchHeight, left = (s % grid) * patchWidth
        for c in 0..<channels {
            let plane = source + c * height * width
            let out = destination + (d * channels + c) * patchHeight * patchWidth
            for y in 0..<patchHeight {
                (out + y * patchWidth).update(from: plane + (top + y) * width + left, count: patchWidth)
            }
        }
    }
}

/// Gives each of `count` patches of `size` floats (all channels) zero mean and unit variance,
/// in place: x -> (x - mean) / sqrt(variance + 0.01), the 0.01 keeping blank patches finite.
/// Patches normalised alone cannot be placed by their brightness or contrast (Noroozi & Favaro).
///
/// ```swift
/// standardisePatches(patches, count: 4, size: 16)   // 4 x [1, 4, 4]
/// ```
public func standardisePatches(_ patches: UnsafeMutablePointer<Float>, count: Int, size: Int) {
    for q in 0..<count {
        let patch = patches + q * size
        var mean: Float = 0
        for j in 0..<size { mean += patch[j] }
        mean /= Float(size)
        var variance: Float = 0
        for j in 0..<size { variance += (patch[j] - mean) * (patch[j] - mean) }
        let inverse = 1 / (variance / Float(size) + 0.01).squareRoot()
        for j in 0..<size { patch[j] = (patch[j] - mean) * inverse }
    }
}

/// Masks the square of `size` x `size` pixels at (`top`, `left`) in every channel of `image`
/// [C, H, W]: those pixels become `fill` and the same positions of `mask` [C, H, W] become 1
/// (all others 0).
///
/// ```swift
/// maskRegion(view, mask: maskRow, channels: 1, height: 8, width: 8, top: 2, left: 3, size: 4, fill: 0.3)
/// ```
public func maskRegion(_ image: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>, channels: Int,
                       height: Int, width: Int, top: Int, left: Int, size: Int, fill: Float) {
    precondition(top >= 0 && left >= 0 && size >= 1 && top + size <= height && left + size <= width,
                 "a \(size)x\(size) region at (\(top), \(left)) does not fit in \(height)x\(width)")
    mask.update(repeating: 0, count: channels * height * width)
    for c in 0..<channels {
        for y in top..<(top + size) {
            let row = c * height * width + y * width + left
            (image + row).update(repeating: fill, count: size)
            (mask + row).update(repeating: 1, count: size)
        }
    }
}
