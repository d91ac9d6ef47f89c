package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/sdk/apt"
)

func newAptCmd() *cobra.Command {
	var (
		gen                apt.Generator
		keyFile, arbitrary string
	)
	cmd := &cobra.Command{
		Use:   "apt --environment GUID --key FILE --arbitrary-id ID [--ttl 60s] [--kid KID]",
		Short: "Mint an Account Provider Token (APT) for the Work API",
		Long: `Mint an Account Provider Token, as the Work API SDK does, and print it on one
line. An APT is a JWT signed with the environment's private key; present it as
"Authorization: Bearer <APT>" to POST /workapi/users (create the user) or
POST /workapi/users/reauth (a new user token), or as the assertion of the
jwt-bearer grant on /oauth2/token.

The algorithm follows the key: RS256 for RSA (2048 bits or more), ES256 for
P-256, EdDSA for Ed25519 (PKCS#8, SEC1 or PKCS#1 PEM). The claims are exp,
iat, environment_guid, arbitrary_id and a random jti (each APT is accepted
once). The server refuses an APT whose ttl exceeds the environment's
max_apt_ttl (60s in the development defaults). See docs/workapi.md.`,
		Example: `  . data/dev-credentials.txt
  latchkey apt --environment "$DEMO_ENVIRONMENT_GUID" --key "$DEMO_ENVIRONMENT_KEY" --arbitrary-id user_xyz123

  APT=$(latchkey apt --environment "$DEMO_ENVIRONMENT_GUID" --key "$DEMO_ENVIRONMENT_KEY" --arbitrary-id user_xyz123)
  curl -s -X POST -H "Authorization: Bearer $APT" http://127.0.0.1:8080/workapi/users`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, flagValue{"--environment", gen.EnvironmentGUID}, flagValue{"--key", keyFile},
				flagValue{"--arbitrary-id", arbitrary}); err != nil {
				return err
			}
			if gen.TTL < time.Second {
				return usage("--ttl %v: want one second or more, like 60s (see %s --help)", gen.TTL, cmd.CommandPath())
			}
			if gen.TTL%time.Second != 0 {
				return usage("--ttl %v: want whole seconds, like %v (exp and iat are whole seconds)", gen.TTL, gen.TTL.Truncate(time.Second))
			}
			var err error
			if gen.Key, err = readPrivateKey(keyFile); err != nil {
				return err
			}
			token, err := gen.Generate(arbitrary)
			switch {
			case errors.Is(err, apt.ErrUnsupportedKey):
				return usage("--key %s: %v", keyFile, err)
			case errors.Is(err, apt.ErrInvalidInput):
				return usage("%v (see %s --help)", err, cmd.CommandPath())
			case err != nil:
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), token)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&gen.EnvironmentGUID, "environment", "", "the environment's GUID (required)")
	f.StringVar(&keyFile, "key", "", "the environment's private key, a PEM file (required)")
	f.StringVar(&arbitrary, "arbitrary-id", "", "the user's arbitrary_id, 1 to 255 characters (required)")
	f.DurationVar(&gen.TTL, "ttl", apt.DefaultTTL, "lifetime of the APT (exp - iat), in whole seconds")
	f.StringVar(&gen.KeyID, "kid", "", "key id for the header, naming one of the environment's public_keys (default: none)")
	f.StringVar(&gen.Audience, "audience", "", "aud claim: the server's issuer or token URL (default: none, as the SDK)")
	return cmd
}
