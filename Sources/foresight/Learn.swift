import ArgumentParser
struct Learn: ParsableCommand {}
struct PC64Benchmark { init(threads: Int, pool: Any) throws {}; func step() throws {} }
