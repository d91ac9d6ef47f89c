// Package surface is the contract every compatibility surface implements
// (its name, whether a snapshot enables it and at which prefix, and the
// mounting of its routes), and the wire plumbing they share: bearer and raw
// Basic credentials, JSON-or-form bodies under the body cap, and the
// classification of core errors into HTTP statuses. Each surface keeps its
// own error writer for its own wire format.
package surface
