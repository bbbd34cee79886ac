// NumPy's .npy format (version 1.0 to 3.0), the form Flower's arrays travel in: a float32 array
// written in C order, little-endian, and read back from float16, float32 or float64. Not a
// general NumPy reader: no structured, Fortran-ordered, big-endian or object arrays.

/// One array in .npy form.
///
/// ```swift
/// let bytes = Npy.encode([1, 2, 3, 4, 5, 6], shape: [2, 3])
/// let array = try Npy.decode(bytes)   // array.shape == [2, 3], array.values == [1, ..., 6]
/// ```
public enum Npy {
    /// The element types read and written: NumPy's `descr` and bytes per element.
    public enum Element: String, Sendable, CaseIterable {
        case float16 = "<f2"
        case float32 = "<f4"
        case float64 = "<f8"

        public var byteCount: Int {
            switch self {
            case .float16: 2
            case .float32: 4
            case .float64: 8
            }
        }

        /// NumPy's name of the type ("float32"), as Flower's Array metadata states it.
        public var numpyName: String {
            switch self {
            case .float16: "float16"
            case .float32: "float32"
            case .float64: "float64"
            }
        }
    }

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]   // "\x93NUMPY"

    /// `values` (C order, `shape`'s product of them) as a version 1.0 .npy file of `element`s.
    public static func encode(_ values: UnsafeBufferPointer<Float>, shape: [Int], as element: Element = .float32) -> [UInt8] {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) holds \(shape.reduce(1, *)) values, not \(values.count)")
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(element.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        // Magic, version, length, header: the data starts at a multiple of 64, the header ends in "\n".
        let unpadded = magic.count + 2 + 2 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes = magic + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        bytes.reserveCapacity(bytes.count + header.utf8.count + values.count * element.byteCount)
        bytes += header.utf8
        switch element {
        case .float32:
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
        case .float16:
            for value in values { withUnsafeBytes(of: Float16(value).bitPattern.littleEndian) { bytes += $0 } }
        case .float64:
            for value in values { withUnsafeBytes(of: Double(value).bitPattern.littleEndian) { bytes += $0 } }
        }
        return bytes
    }

    /// `values` as a .npy file; see `encode(_:shape:as:)`.
    public static func encode(_ values: [Float], shape: [Int], as element: Element = .float32) -> [UInt8] {
        values.withUnsafeBufferPointer { encode($0, shape: shape, as: element) }
    }

    /// The header of a .npy file: its element type, shape and where its data starts.
    public struct Header: Equatable, Sendable {
        public var element: Element
        public var shape: [Int]
        public var dataOffset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    /// Reads and checks the header of `bytes`: magic, version, a dictionary with `descr`,
    /// `fortran_order` and `shape`, and exactly as many data bytes as the shape needs.
    public static func header(_ bytes: UnsafeRawBufferPointer) throws -> Header {
        func refuse(_ reason: String) -> FleetError { .malformed("a .npy array: \(reason)") }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw refuse("it does not start with the .npy magic \\x93NUMPY") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw refuse("the file ends inside its header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw refuse("version \(major).\(bytes[7]) is not 1, 2 or 3")
        }
        guard headerLength <= 1 << 16, headerStart + headerLength <= bytes.count else { throw refuse("its header of \(headerLength) bytes runs past the end of \(bytes.count) bytes") }
        guard let text = String(validating: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self) else { throw refuse("its header is not text") }
        let descr = try value(of: "descr", in: text, refuse)
        guard descr.count >= 2, descr.first == "'" || descr.first == "\"", descr.last == descr.first else { throw refuse("descr \(descr) is not a quoted type") }
        let typeName = String(descr.dropFirst().dropLast())
        guard let element = Element(rawValue: typeName == "|f2" ? "<f2" : typeName) else {
            throw refuse("element type \(typeName) is not one of \(Element.allCases.map(\.rawValue).joined(separator: ", ")) (little-endian floats)")
        }
        guard try value(of: "fortran_order", in: text, refuse) == "False" else { throw refuse("Fortran-ordered arrays are not read; write it in C order") }
        let shapeText = try value(of: "shape", in: text, refuse)
        guard shapeText.first == "(", shapeText.last == ")" else { throw refuse("shape \(shapeText) is not a tuple") }
        var shape: [Int] = []
        for part in shapeText.dropFirst().dropLast().split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: " ")
            if trimmed.isEmpty { continue }
            guard let dimension = Int(trimmed), dimension >= 0, dimension <= 1 << 31 else { throw refuse("shape \(shapeText) holds \(trimmed), not a size") }
            shape.append(dimension)
        }
        let dataOffset = headerStart + headerLength
        let (count, overflow) = shape.reduce((1, false)) { partial, next in
            let product = partial.0.multipliedReportingOverflow(by: next)
            return (product.partialValue, partial.1 || product.overflow)
        }
        guard !overflow, count <= Int.max / 8 else { throw refuse("shape \(shapeText) is too large") }
        let expected = count * element.byteCount
        guard bytes.count - dataOffset == expected else {
            throw refuse("shape \(shapeText) of \(element.numpyName) needs \(expected) data bytes, the file holds \(bytes.count - dataOffset)")
        }
        return Header(element: element, shape: shape, dataOffset: dataOffset)
    }

    /// Reads the values of `bytes` (after `header`) as float32 into `destination`, which holds
    /// exactly `header.count` of them.
    public static func readValues(_ bytes: UnsafeRawBufferPointer, header: Header, into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count == header.count, "room for \(destination.count) values, the array holds \(header.count)")
        let data = UnsafeRawBufferPointer(rebasing: bytes[header.dataOffset...])
        switch header.element {
        case .float32:
            for i in 0..<header.count { destination[i] = Float(bitPattern: UInt32(littleEndian: data.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
        case .float16:
            for i in 0..<header.count { destination[i] = Float(Float16(bitPattern: UInt16(littleEndian: data.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))) }
        case .float64:
            for i in 0..<header.count { destination[i] = Float(Double(bitPattern: UInt64(littleEndian: data.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))) }
        }
    }

    /// The shape and float32 values of a .npy file.
    public static func decode(_ bytes: [UInt8]) throws -> (shape: [Int], values: [Float]) {
        try bytes.withUnsafeBytes { raw in
            let header = try header(raw)
            var values = [Float](repeating: 0, count: header.count)
            values.withUnsafeMutableBufferPointer { readValues(raw, header: header, into: $0) }
            return (header.shape, values)
        }
    }

    /// The text after `'key':` in a header dictionary, up to the next top-level comma or the end.
    private static func value(of key: String, in text: String, _ refuse: (String) -> FleetError) throws -> String {
        guard let keyRange = text.range(of: "'\(key)'") ?? text.range(of: "\"\(key)\"") else { throw refuse("its header has no '\(key)'") }
        var rest = text[keyRange.upperBound...].drop { $0 == " " }
        guard rest.first == ":" else { throw refuse("'\(key)' in its header has no value") }
        rest = rest.dropFirst().drop { $0 == " " }
        var depth = 0, end = rest.startIndex
        while end < rest.endIndex {
            let character = rest[end]
            if character == "(" { depth += 1 } else if character == ")" { depth -= 1 }
            if (character == "," || character == "}") && depth == 0 { break }
            end = rest.index(after: end)
        }
        return String(rest[rest.startIndex..<end]).trimmingCharacters(in: " ")
    }
}

extension StringProtocol {
    func trimmingCharacters(in character: Character) -> String {
        String(self.drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}
