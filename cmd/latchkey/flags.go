package main

import (
	"crypto"
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/pemkey"
)

// flagValue is a required flag and the value it was given.
type flagValue struct{ name, value string }

// requireFlags answers a usage error naming every required flag left empty.
func requireFlags(cmd *cobra.Command, flags ...flagValue) error {
	var missing []string
	for _, f := range flags {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return usage("missing %s (see %s --help)", strings.Join(missing, ", "), cmd.CommandPath())
	}
	return nil
}

// readPrivateKey reads the --key file: a PEM private key (PKCS#8, SEC1 or
// PKCS#1), or the same on one line with \n escapes. Its errors are usage
// errors that name the file.
func readPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, usage("--key %s: cannot read the private key: %v", path, err)
	}
	if text := strings.TrimSpace(string(data)); !strings.Contains(text, "\n") && strings.Contains(text, `\n`) {
		data = []byte(strings.ReplaceAll(text, `\n`, "\n"))
	}
	key, err := pemkey.ParsePrivate(data)
	if err != nil {
		return nil, usage("--key %s: %v", path, err)
	}
	return key, nil
}
