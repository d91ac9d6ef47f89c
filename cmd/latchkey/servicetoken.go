package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/sdk/servicetoken"
)

func newServiceTokenCmd() *cobra.Command {
	var (
		credential, keyFile, payloadFile string
		scopes                           []string
		opts                             servicetoken.Options
	)
	cmd := &cobra.Command{
		Use:   "service-token --credential ID --key FILE --scope S [--scope S …] [--username U | --user-id ID] [--payload-hash-of FILE]",
		Short: "Mint a LoginID-style API service token",
		Long: `Mint an API service token, as LoginID's server SDKs do, and print it on one
line: a JWT signed (ES256) with the API credential's P-256 private key, with the
claims client_id (the credential), type (the scopes, space-separated), a
random 16-character nonce, iat, and username or user_id when the request acts
on one user. Present it as "Authorization: Bearer <token>" to the LoginID
routes. The server accepts each token once, for five minutes after iat, and
only with scopes its credential is configured for: sign a new one for every
request. The key file may hold the PEM as written, or on one line with \n
escapes (the form LoginID hands out as API_PRIVATE_KEY).

A token that creates a passkey transaction (scope tx.create, for POST /tx or
POST /tx/init with a tx_payload) may be bound to its payload, as LoginID's SDKs
bind theirs: --payload-hash-of FILE puts the claim payload_hash, the unpadded
base64url SHA-256 of FILE's exact bytes, and the server then refuses any other
tx_payload with that token. FILE must hold the payload byte for byte as the
request's tx_payload will carry it: UTF-8 text of at most 4096 bytes, and no
newline at the end unless the payload has one (echo adds one; printf '%s' does
not). "-" reads the payload from stdin. See docs/passkeys.md.`,
		Example: `  . data/dev-credentials.txt
  latchkey service-token --credential "$DEMO_CREDENTIAL_ID" --key "$DEMO_CREDENTIAL_KEY" --scope users.create

  TOKEN=$(latchkey service-token --credential "$DEMO_CREDENTIAL_ID" --key "$DEMO_CREDENTIAL_KEY" --scope users.retrieve --username sally)
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"username":"sally"}' http://127.0.0.1:8080/loginid/manage/users/retrieve

  printf '%s' 'Pay 10 EUR to Bob' > tx.txt
  TOKEN=$(latchkey service-token --credential "$DEMO_CREDENTIAL_ID" --key "$DEMO_CREDENTIAL_KEY" --scope tx.create --payload-hash-of tx.txt)
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"username":"sally","tx_type":"text","tx_payload":"Pay 10 EUR to Bob"}' http://127.0.0.1:8080/loginid/tx`,
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
			if payloadFile != "" {
				if opts.PayloadHash, err = payloadHashOf(cmd, payloadFile); err != nil {
					return err
				}
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
	f.StringVar(&payloadFile, "payload-hash-of", "", `bind the token to the transaction payload in this file ("-": stdin), byte for byte, as payload_hash`)
	return cmd
}

// payloadHashOf reads the --payload-hash-of file ("-" for stdin) and
// returns its payload_hash; a payload the server would refuse is a usage
// error.
func payloadHashOf(cmd *cobra.Command, path string) (string, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), accounts.MaxTxPayload+1))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", usage("--payload-hash-of %s: cannot read the payload: %v", path, err)
	}
	switch {
	case len(data) == 0:
		return "", usage("--payload-hash-of %s: the payload is empty; a transaction needs a tx_payload", path)
	case len(data) > accounts.MaxTxPayload:
		return "", usage("--payload-hash-of %s: the payload is longer than %d bytes, which the server refuses as a tx_payload", path, accounts.MaxTxPayload)
	case !utf8.Valid(data):
		return "", usage("--payload-hash-of %s: the payload is not UTF-8 text, which a tx_payload must be", path)
	}
	return servicetoken.PayloadHash(string(data)), nil
}
