//go:build benchceiling

package core

// writesOff: the benchmark build (tag benchceiling) stores no issued
// token, so bench/run.sh measures the client_credentials path without its
// database write. Such a server's tokens never introspect active.
const writesOff = true
