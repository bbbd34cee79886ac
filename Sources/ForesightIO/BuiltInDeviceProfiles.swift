// The board profiles of devices/, compiled into the binary so that an installed `foresight`
// knows the boards by name. devices/*.json are the source; a test holds these copies to
// them byte for byte (after changing a file there, copy its text here). Not a loader: see
// DeviceProfile.load(named:).

extension DeviceProfile {
    /// Each profile of devices/ by name (the file name without .json) and its JSON text.
    ///
    /// ```swift
    /// let pi5 = try DeviceProfile.load(named: "raspberry-pi-5")   // found here when no devices/ folder has it
    /// DeviceProfile.builtIn.map(\.name)   // ["raspberry-pi-4", "raspberry-pi-5", ...]
    /// ```
    public static let builtIn: [(name: String, json: String)] = [
        ("raspberry-pi-4", #"""
            {
              "name": "Raspberry Pi 4 Model B (4x Cortex-A72, NEON)",
              "cores": 4,
              "memoryBudgetMiB": 256,
              "camera": { "device": "/dev/video0", "width": 640, "height": 480, "framesPerSecond": 30 },
              "microphone": { "device": "default", "sampleRate": 16000 },
              "model": "pc64",
              "objective": "motion"
            }

            """#),
        ("raspberry-pi-5", #"""
            {
              "name": "Raspberry Pi 5 (4x Cortex-A76, NEON and dot-product instructions)",
              "cores": 4,
              "memoryBudgetMiB": 512,
              "camera": { "device": "/dev/video0", "width": 640, "height": 480, "framesPerSecond": 30 },
              "microphone": { "device": "default", "sampleRate": 16000 },
              "model": "pc64",
              "objective": "motion"
            }

            """#),
        ("raspberry-pi-zero-2w", #"""
            {
              "name": "Raspberry Pi Zero 2 W (4x Cortex-A53, 512 MB)",
              "cores": 4,
              "memoryBudgetMiB": 64,
              "camera": { "device": "/dev/video0", "width": 320, "height": 240, "framesPerSecond": 15 },
              "microphone": { "device": "default", "sampleRate": 16000 },
              "model": "pc64",
              "objective": "motion"
            }

            """#),
        ("x86-64-laptop", #"""
            {
              "name": "Generic x86-64 laptop",
              "cores": 2,
              "memoryBudgetMiB": 1024,
              "camera": { "device": "/dev/video0", "width": 640, "height": 480, "framesPerSecond": 30 },
              "microphone": { "device": "default", "sampleRate": 16000 },
              "model": "pc64",
              "objective": "motion"
            }

            """#),
    ]
}
