package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/sdk/servicetoken"
)

func newServiceTokenCmd() *cobra.Command {
	var (
		credential, keyFile string
		scopes              []string
		opts                servicetoken.Options
	)
	cmd := &cobra.Command{
		Use:   "service-token --credential ID --key FILE --scope S [--scope S …] [--username U | --user-id ID]",
		Short: "Mint a LoginID-style API service token",
		Long: `Mint an API service token, as LoginID's server SDKs do, and print it on one
line: a JWT signed (ES256) with the API credential's P-256 private key, with the
claims client_id (the credential), type (the scopes, space-separated), a
random 16-character nonce, iat, and username or user_id when the request acts
on one user. Present it as "Authorization: Bearer <token>" to the LoginID
routes. The server accepts each token once, for five minutes after iat, and
only with scopes its credential is configured for: sign a new one for every
request. The key file may hold the PEM as written, or on one line with \n
escapes (the form LoginID hands out as API_PRIVATE_KEY). See docs/loginid.md.`,
		Example: `  . data/dev-credentials.txt
  latchkey service-token --credential "$DEMO_CREDENTIAL_ID" --key "$DEMO_CREDENTIAL_KEY" --scope users.create

  TOKEN=$(latchkey service-token --credential "$DEMO_CREDENTIAL_ID" --key "$DEMO_CREDENTIAL_KEY" --scope users.retrieve --username sally)
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"username":"sally"}' http://127.0.0.1:8080/loginid/manage/users/retrieve`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, flagValue{"--credential", credential}, flagValue{"--key", keyFile},
				flagValue{"--scope", strings.Join(scopes, "")}); err != nil {
				return err
			}
			if opts.Username != "" && opts.UserID != "" {
				return usage("give only one of --username and --user-id")
			}
			key, err := readPrivateKey(keyFile)
			if err != nil {
				return err
			}
			token, err := servicetoken.Sign(credential, key, scopes, opts)
			switch {
			case errors.Is(err, servicetoken.ErrUnsupportedKey):
				return usage("--key %s: %v", keyFile, err)
			case errors.Is(err, servicetoken.ErrInvalidInput):
				return usage("%v (see %s --help)", err, cmd.CommandPath())
			case err != nil:
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), token)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&credential, "credential", "", "the API credential's id, sent as client_id (required)")
	f.StringVar(&keyFile, "key", "", "the API credential's P-256 private key, a PEM file (required)")
	f.StringArrayVar(&scopes, "scope", nil, "a scope the request needs; repeat for more (at least one)")
	f.StringVar(&opts.Username, "username", "", "the user the request acts on, by username")
	f.StringVar(&opts.UserID, "user-id", "", "the user the request acts on, by usr_ id")
	return cmd
}
