// Package engine loads pipeline files, compiles their expressions, and runs
// them: it owns the Source and Sink contracts, the plugin registry, the batch
// loop, incremental state, the sync history and rejects. It never imports a
// source or sink plugin; cmd/etl wires them in through a Registry.
//
// A run (run.go) is three stages joined by channels, so that reading,
// mapping and loading overlap:
//
//   - read: the source emits records (a map of fields, or values in a shared
//     Schema's order); a batcher (batcher.go) sends a batch when it holds
//     batch_size records or its first record has waited 5 s;
//   - transform: each batch is mapped and checked, on one goroutine per CPU
//     for large batches (pool.go), in record order for all that depends on
//     order; expressions run on a fast path of compiled closures when their
//     shape allows (fastpath.go) and on expr's VM otherwise, with the same
//     results;
//   - write: each batch lands in one Sink.Write, with its rejects and, for a
//     source ordered by its cursor, the cursor it reached.
package engine
