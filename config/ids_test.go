package config

import (
	"strings"
	"testing"
)

// TestEnvironmentGUIDFitsTheUserStore: users keep their environment's guid
// in a 255-character column, so a longer guid (or one that is not UTF-8,
// which ${NAME} expansion could bring in) is a config error, not a server
// error at the first APT.
func TestEnvironmentGUIDFitsTheUserStore(t *testing.T) {
	dir := keyDir(t, "")
	file := func() string {
		return base + `clients:
  - id: app
    realm: rl_demo
    auth_method: none
    grant_types: [password]
environments:
  - guid: ${GUID}
    realm: rl_demo
    client: app
    public_keys: [{alg: RS256, pem_file: env.pub.pem}]
`
	}
	for _, tc := range []struct{ guid, want string }{
		{strings.Repeat("é", 255), ""},
		{strings.Repeat("g", 256), `t.yaml:13: environments[0].guid: an environment guid may be at most 255 characters, got 256`},
		{"env-\xff", `t.yaml:13: environments[0].guid: not valid UTF-8 text`},
	} {
		_, err := Parse("t.yaml", []byte(file()), dir, env(map[string]string{"GUID": tc.guid}))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("guid of %d bytes: %v", len(tc.guid), err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("guid of %d bytes: error\n%v\nwant\n%s", len(tc.guid), err, tc.want)
		}
	}
}
