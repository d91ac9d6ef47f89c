// Package server assembles Latchkey's HTTP server: it builds one core per
// config snapshot and swaps it atomically on reload, mounts the OAuth
// endpoints and the health and metrics routes on gin, wraps every request in
// the middleware (request id, body limit, panic recovery, access log,
// metrics), and runs the listener with graceful shutdown.
package server
