// Package engine loads pipeline files, compiles their expressions, and runs
// them: it owns the Source and Sink contracts, the plugin registry, the batch
// loop, incremental state, the sync history and rejects. It never imports a
// source or sink plugin; cmd/etl wires them in through a Registry.
package engine
