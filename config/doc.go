// Package config reads Latchkey's YAML configuration file strictly (unknown
// keys, wrong types, dangling references and bad keys are all reported at once
// as FILE:LINE: key.path: message), expands ${ENV} references, applies the
// LATCHKEY_* overrides and defaults, and produces an immutable Snapshot.
//
// Load and Parse read a file; LoadDev reads, or first generates, the
// development configuration kept under a data directory. The key helpers
// (GenerateKey, Thumbprint, Encode…/Parse…PEM, CheckKeyAlg) are the ones the
// loader itself uses, for the CLI and tests. docs/configuration.md describes
// every key.
package config
