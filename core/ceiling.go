//go:build !benchceiling

package core

// writesOff is true only in the benchmark build (tag benchceiling), where
// issued tokens are not stored, to measure the issuance path's ceiling.
// Production builds cannot switch it on.
const writesOff = false
