// Package server assembles Latchkey's HTTP server: per config snapshot it
// builds the core and the whole gin router — middleware (request id, panic
// recovery, access log, metrics, body limit), the OAuth endpoints, each
// enabled surface at its prefix, health and metrics — and swaps both
// atomically on reload, so a reload can switch a surface on or off or move
// it. It runs the listener with graceful shutdown.
package server
