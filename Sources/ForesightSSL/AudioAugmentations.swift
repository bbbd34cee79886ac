// Augmentations of log-mel spectrograms in the style of SpecAugment (Park et al. 2019): a
// circular shift in time, masks over spans of frames and over spans of mel bands. Plain
// functions on one spectrogram [F, B] (F frames of B bands, frame after frame), in place and
// without allocation. Not time warping, and not augmentations of raw samples.

import ForesightCore

/// Rolls the spectrogram [frames, bands] by `shift` frames in time, circularly: frame f moves to
/// (f + shift) mod frames. Negative shifts roll backwards.
///
/// ```swift
/// timeShift(spectrogram, frames: 100, bands: 40, by: random.nextInt(below: 21) - 10)
/// ```
public func timeShift(_ spectrogram: UnsafeMutablePointer<Float>, frames: Int, bands: Int, by shift: Int) {
    precondition(frames >= 0 && bands >= 1, "a spectrogram needs frames >= 0 and bands >= 1, got \(frames) x \(bands)")
    guard frames > 1 else { return }
    let amount = ((shift % frames) + frames) % frames
    guard amount > 0 else { return }
    // A rotation right by `amount` rows is three reversals of whole rows.
    func reverseRows(_ first: Int, _ end: Int) {
        var low = first, high = end - 1
        while low < high {
            let a = spectrogram + low * bands, b = spectrogram + high * bands
            for i in 0..<bands { let kept = a[i]; a[i] = b[i]; b[i] = kept }
            low += 1; high -= 1
        }
    }
    reverseRows(0, frames)
    reverseRows(0, amount)
    reverseRows(amount, frames)
}

/// Sets `count` spans of 0...`maxWidth` consecutive frames (each start uniform) to `value`
/// (0 for a normalised spectrogram is its mean). Spans may overlap.
///
/// ```swift
/// timeMask(spectrogram, frames: 100, bands: 40, maxWidth: 10, count: 2, random: &random)
/// ```
public func timeMask(_ spectrogram: UnsafeMutablePointer<Float>, frames: Int, bands: Int, maxWidth: Int, count: Int = 1,
                     value: Float = 0, random: inout SeededRandom) {
    precondition(frames >= 1 && bands >= 1 && maxWidth >= 0 && count >= 0,
                 "time masking needs frames, bands >= 1 and maxWidth, count >= 0; got \(frames) x \(bands), \(maxWidth), \(count)")
    for _ in 0..<count {
        let width = min(frames, random.nextInt(below: maxWidth + 1))
        let start = random.nextInt(below: frames - width + 1)
        for frame in start..<start + width {
            let row = spectrogram + frame * bands
            row.update(repeating: value, count: bands)
        }
    }
}

/// Sets `count` spans of 0...`maxWidth` consecutive mel bands (each start uniform) to `value`
/// in every frame. Spans may overlap.
///
/// ```swift
/// frequencyMask(spectrogram, frames: 100, bands: 40, maxWidth: 8, random: &random)
/// ```
public func frequencyMask(_ spectrogram: UnsafeMutablePointer<Float>, frames: Int, bands: Int, maxWidth: Int, count: Int = 1,
                          value: Float = 0, random: inout SeededRandom) {
    precondition(frames >= 1 && bands >= 1 && maxWidth >= 0 && count >= 0,
                 "frequency masking needs frames, bands >= 1 and maxWidth, count >= 0; got \(frames) x \(bands), \(maxWidth), \(count)")
    for _ in 0..<count {
        let width = min(bands, random.nextInt(below: maxWidth + 1))
        let start = random.nextInt(below: bands - width + 1)
        for band in start..<start + width {
            for frame in 0..<frames { spectrogram[frame * bands + band] = value }
        }
    }
}
