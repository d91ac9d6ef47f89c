package oauth

import (
	"fmt"
	"testing"

	"github.com/latchkey/latchkey/config"
)

// Discovery lists the authorization endpoint and its fields only when a
// surface serves it; otherwise neither it nor the authorization_code grant.
func TestMetadataListsOnlyWhatWorks(t *testing.T) {
	snap := &config.Snapshot{Issuer: "https://id.example.com", SigningKeys: []config.SigningKey{{KID: "a", Alg: config.AlgES256}, {KID: "b", Alg: config.AlgRS256}, {KID: "c", Alg: config.AlgES256}}}
	grants := []string{config.GrantClientCredentials, config.GrantAuthorizationCode, config.GrantRefreshToken}

	md := renderMetadata(snap, grants, nil)
	if fmt.Sprint(md["grant_types_supported"]) != "[client_credentials refresh_token]" {
		t.Errorf("without a browser surface: grant_types_supported = %v", md["grant_types_supported"])
	}
	if fmt.Sprint(md["response_types_supported"]) != "[]" || md["authorization_endpoint"] != nil {
		t.Errorf("without a browser surface: %v, %v", md["response_types_supported"], md["authorization_endpoint"])
	}

	md = renderMetadata(snap, grants, &Browser{AuthorizationPath: "/oauth2/authorize", Prompts: []string{"none", "login"}})
	for k, want := range map[string]string{
		"grant_types_supported":                          "[client_credentials authorization_code refresh_token]",
		"authorization_endpoint":                         "https://id.example.com/oauth2/authorize",
		"response_types_supported":                       "[code]",
		"response_modes_supported":                       "[query]",
		"code_challenge_methods_supported":               "[S256]",
		"id_token_signing_alg_values_supported":          "[ES256 RS256]",
		"subject_types_supported":                        "[public]",
		"authorization_response_iss_parameter_supported": "true",
		"prompt_values_supported":                        "[none login]",
		"end_session_endpoint":                           "<nil>",
	} {
		if got := fmt.Sprint(md[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
}
