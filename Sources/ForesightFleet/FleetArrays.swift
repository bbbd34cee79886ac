// The named float32 arrays a node exchanges with its federation, in one allocation sized once
// from their layout (names and shapes). What arrives is checked against the layout before any
// of it is kept; a mismatch leaves the arrays as they were.

/// The name and shape of one exchanged array.
public struct FleetArraySpec: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var count: Int { shape.reduce(1, *) }

    public init(name: String, shape: [Int]) {
        precondition(!name.isEmpty && shape.allSatisfy { $0 >= 0 }, "an array needs a name and a shape of sizes (got \(name) \(shape))")
        self.name = name
        self.shape = shape
    }
}

/// Named float32 arrays in one fixed buffer: `[array 0 values, array 1 values, ...]`.
///
/// ```swift
/// let arrays = FleetArrays(layout: [.init(name: "w", shape: [2, 3]), .init(name: "b", shape: [3])])
/// arrays.values(of: 0).update(repeating: 1)
/// ```
public final class FleetArrays: @unchecked Sendable {
    public let layout: [FleetArraySpec]
    /// Where each array starts in `storage`.
    public let offsets: [Int]
    public let totalCount: Int
    public let storage: UnsafeMutableBufferPointer<Float>

    public init(layout: [FleetArraySpec]) {
        precondition(Set(layout.map(\.name)).count == layout.count, "array names must be unique: \(layout.map(\.name))")
        self.layout = layout
        var offsets: [Int] = [], total = 0
        for spec in layout {
            offsets.append(total)
            total += spec.count
        }
        self.offsets = offsets
        totalCount = total
        storage = .allocate(capacity: max(total, 1))
        storage.initialize(repeating: 0)
    }

    deinit { storage.deallocate() }

    /// The values of array `index`.
    public func values(of index: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: storage[offsets[index]..<(offsets[index] + layout[index].count)])
    }

    /// Copies every value of `other`, which has the same layout.
    public func copy(from other: FleetArrays) {
        precondition(other.layout == layout, "layouts differ")
        storage.baseAddress!.update(from: other.storage.baseAddress!, count: totalCount)
    }

    /// Bytes of the values, as float32.
    public var byteCount: Int { totalCount * 4 }
}

extension FleetArrays {
    /// Reads the arrays of a pulled ArrayRecord into these arrays. Every array is checked
    /// first (the same names, no more and no fewer; the same shapes; a readable .npy whose
    /// header agrees with Flower's metadata; finite values); on any failure it throws and the
    /// values read so far are not to be used.
    func read(_ entries: [PulledMessage.ArrayEntry]) throws {
        let expected = layout.map(\.name), got = entries.map(\.name)
        if Set(expected) != Set(got) || got.count != expected.count {
            let missing = expected.filter { !got.contains($0) }, extra = got.filter { !expected.contains($0) }
            throw FleetError.mismatched("the arrays do not match this model's \(expected.count): "
                + (missing.isEmpty ? "" : "missing \(missing.prefix(5).joined(separator: ", "))\(missing.count > 5 ? " and \(missing.count - 5) more" : ""); ")
                + (extra.isEmpty ? "" : "unknown \(extra.prefix(5).joined(separator: ", "))\(extra.count > 5 ? " and \(extra.count - 5) more" : ""); ")
                + "\(got.count) arrays sent")
        }
        for entry in entries {
            let index = layout.firstIndex { $0.name == entry.name }!
            let spec = layout[index]
            guard entry.shape == spec.shape else {
                throw FleetError.mismatched("array \(entry.name) has shape \(entry.shape), this model's is \(spec.shape)")
            }
            try entry.npy.withUnsafeBytes { raw in
                let header: Npy.Header
                do { header = try Npy.header(raw) } catch let error as FleetError {
                    throw FleetError.malformed("array \(entry.name): \(error.description.replacingOccurrences(of: "malformed ", with: ""))")
                }
                guard header.shape == spec.shape, header.element.numpyName == entry.dtype else {
                    throw FleetError.malformed("array \(entry.name): its .npy holds \(header.element.numpyName) \(header.shape), its metadata says \(entry.dtype) \(entry.shape)")
                }
                let destination = values(of: index)
                Npy.readValues(raw, header: header, into: destination)
                if let bad = destination.firstIndex(where: { !$0.isFinite }) {
                    throw FleetError.mismatched("array \(entry.name) holds \(destination[bad]) at element \(bad); every value must be finite")
                }
            }
        }
    }

    /// These arrays as an ArrayRecord's children in `bundle`, each a .npy of `element`s.
    func write(as element: Npy.Element, into bundle: inout ObjectBundle) -> [(String, FlowerObject)] {
        layout.indices.map { index in
            let spec = layout[index]
            let npy = Npy.encode(UnsafeBufferPointer(values(of: index)), shape: spec.shape, as: element)
            return (spec.name, ObjectWriter.array(npy: npy, dtype: element.numpyName, shape: spec.shape, into: &bundle))
        }
    }
}
