package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/secrethash"
)

func newMigrateCmd() *cobra.Command {
	var path, level, format string
	cmd := &cobra.Command{
		Use:   "migrate [--config FILE]",
		Short: "Bring the database schema up to date and exit",
		Long: `Bring the database schema up to date and exit. serve does the same at start
unless database.auto_migrate is false.`,
		Example: `  latchkey migrate --config /etc/latchkey/latchkey.yaml
  LATCHKEY_DATABASE_DRIVER=mysql LATCHKEY_DATABASE_DSN='root@tcp(127.0.0.1:3306)/latchkey?parseTime=true' \
    latchkey migrate --config latchkey.yaml`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), level, format)
			if err != nil {
				return err
			}
			snap, _, err := loadConfig(log, path)
			if err != nil {
				return err
			}
			store, err := openStore(cmd.Context(), log, snap, true)
			if err != nil {
				return err
			}
			log.Info("database schema is up to date", "database", snap.Database.Driver+" "+redactDSN(snap.Database.Driver, snap.Database.DSN))
			return store.Close()
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "config file (default: development defaults under ./data)")
	addLogFlags(cmd, &level, &format)
	return cmd
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with config files"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a config file",
		Long: `Validate a config file. Exit 0 when it is valid (warnings go to stderr), or
exit 2 with every error on stderr as FILE:LINE: key.path: message.`,
		Example: `  latchkey config check /etc/latchkey/latchkey.yaml
  DEMO_BACKEND_SECRET_HASH=sha256:… latchkey config check latchkey.yaml`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			snap, err := config.Load(args[0], os.LookupEnv)
			if err != nil {
				var errs config.Errors
				if errors.As(err, &errs) {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					return usageError{errors.New("")}
				}
				return usageError{err}
			}
			for _, w := range snap.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+w)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d realms, %d clients, %d signing keys)\n",
				args[0], len(snap.Realms), len(snap.Clients), len(snap.SigningKeys))
			return nil
		},
	})
	return cmd
}

// keyUses are the places a generated key can go, for keys generate --use.
var keyUses = []string{"signing", "client", "environment", "credential"}

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Make keys for the config file"}
	var alg, kid, use string
	gen := &cobra.Command{
		Use:   "generate --alg ES256|RS256|EdDSA [--kid ID] [--use signing|client|environment|credential]",
		Short: "Generate a key pair and print it with the config snippet to paste",
		Long: `Generate a key pair. Prints the private key (PEM, and the same on one line
with \n escapes for an inline pem:), the public key PEM, and the config
snippet for the use asked:

  signing      signing_keys: (the private key, in a file; the default)
  client       clients[].public_keys, for auth_method: private_key_jwt
  environment  environments[].public_keys, a Work API account provider
  credential   api_credentials[].public_keys (ES256 only)

For the last three, the private key stays with whoever signs (the client or
the account provider's backend); only the public key goes into the config.
The kid defaults to the RFC 7638 thumbprint of the public key.`,
		Example: `  latchkey keys generate --alg ES256
  latchkey keys generate --alg RS256 --kid env-2026-11 --use environment`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if alg != config.AlgES256 && alg != config.AlgRS256 && alg != config.AlgEdDSA {
				return usage("--alg %q: want ES256, RS256 or EdDSA (see latchkey keys generate --help)", alg)
			}
			if !slices.Contains(keyUses, use) {
				return usage("--use %q: want %s (see latchkey keys generate --help)", use, strings.Join(keyUses, ", "))
			}
			if use == "credential" && alg != config.AlgES256 {
				return usage("--use credential: API credential keys are ES256 only; use --alg ES256")
			}
			key, err := config.GenerateKey(alg)
			if err != nil {
				return err
			}
			if kid == "" {
				if kid, err = config.Thumbprint(key.Public()); err != nil {
					return err
				}
			}
			priv, err := config.EncodePrivateKeyPEM(key)
			if err != nil {
				return err
			}
			pub, err := config.EncodePublicKeyPEM(key.Public())
			if err != nil {
				return err
			}
			oneLine := strings.ReplaceAll(strings.TrimRight(string(priv), "\n"), "\n", `\n`)
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "# Private key (%s, kid %s). Keep it secret; save it as a file with mode 0600.\n%s\n", alg, kid, priv)
			fmt.Fprintf(w, "# The same private key on one line, for an inline pem:\n%s\n\n", oneLine)
			fmt.Fprintf(w, "# Public key:\n%s\n", pub)
			if use == "signing" {
				fmt.Fprintf(w, "# Config snippet for signing_keys (the private key in a file, mode 0600):\n")
				fmt.Fprintf(w, "signing_keys:\n  - kid: %s\n    alg: %s\n    pem_file: keys/%s.pem\n", kid, alg, kid)
				return nil
			}
			where := map[string]string{
				"client":      "a client's public_keys (auth_method: private_key_jwt)",
				"environment": "an environment's public_keys",
				"credential":  "an API credential's public_keys",
			}[use]
			fmt.Fprintf(w, "# Config snippet for %s; the private key stays with the signer:\n", where)
			fmt.Fprintf(w, "public_keys: [{kid: %s, alg: %s, pem: \"%s\"}]\n", kid, alg,
				strings.ReplaceAll(strings.TrimRight(string(pub), "\n"), "\n", `\n`))
			return nil
		},
	}
	gen.Flags().StringVar(&alg, "alg", "", "key algorithm: ES256, RS256 (2048-bit) or EdDSA (Ed25519)")
	gen.Flags().StringVar(&kid, "kid", "", "key id (default: the RFC 7638 thumbprint)")
	gen.Flags().StringVar(&use, "use", "signing", "where the key goes: signing, client, environment or credential")
	cmd.AddCommand(gen)
	return cmd
}

func newSecretCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "secret", Short: "Hash client secrets and API keys"}
	var generate bool
	hash := &cobra.Command{
		Use:   "hash [--generate]",
		Short: "Print the secret_hash/key_hash for a secret read on stdin",
		Long: `Read a secret on stdin (one trailing newline is dropped) and print the string
to put in secret_hash or key_hash: sha256:<hex> for a secret of 32 characters
or more (long random secrets need no stretching), an argon2id PHC string for a
shorter one (which costs a slow hash on every request: prefer long secrets).
API keys (key_hash) must be sha256: hashes, so give an API key of 32
characters or more — or use --generate. With --generate, make a 256-bit secret (lk_ + 43 base64url characters) and
print it with its hash.`,
		Example: `  latchkey secret hash --generate
  printf '%s' "$CLIENT_SECRET" | latchkey secret hash`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			if generate {
				secret := secrethash.Generate()
				h, err := secrethash.Hash(secret)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "secret: %s\nsecret_hash: %s\n", secret, h)
				return nil
			}
			secret, err := readSecret(cmd.InOrStdin())
			if err != nil {
				return err
			}
			h, err := secrethash.Hash(secret)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, h)
			return nil
		},
	}
	hash.Flags().BoolVar(&generate, "generate", false, "generate a new 256-bit secret and print it with its hash")
	cmd.AddCommand(hash)
	return cmd
}

// readSecret reads all of r and drops one trailing newline (\n or \r\n).
func readSecret(r io.Reader) (string, error) {
	b, err := io.ReadAll(bufio.NewReader(io.LimitReader(r, 64<<10)))
	if err != nil {
		return "", fmt.Errorf("read secret from stdin: %w", err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", usage("no secret on stdin (pipe one in, or use --generate)")
	}
	return s, nil
}
