// Package config reads Latchkey's YAML configuration file strictly (unknown
// keys, wrong types, dangling references and bad keys are all reported at once
// as FILE:LINE: key.path: message), expands ${ENV} references, applies the
// LATCHKEY_* overrides and defaults, and produces an immutable Snapshot.
package config
