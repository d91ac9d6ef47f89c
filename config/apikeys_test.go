package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/secrethash"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TestAPIKeyConfigs: API keys are found by the hash of the presented key,
// so only sha256: hashes are accepted; an argon2id hash would cost one slow
// hash per configured key on every request.
func TestAPIKeyConfigs(t *testing.T) {
	dir := keyDir(t, "")
	long := secrethash.Generate()
	argon, _ := secrethash.Hash("short-secret")
	const needSHA = "API keys need a sha256: hash (any other would cost a slow hash per configured key on every request): " +
		"generate a key and its hash with latchkey secret hash --generate, or hash a key of 32 or more characters with latchkey secret hash, which prints sha256:…"
	const tooShort = "API keys must be long random strings (at least 32 characters); generate one with latchkey secret hash --generate"
	tests := []struct {
		name     string
		entry    string // lines 8 and on, after "  - id: ko_1\n    realm: rl_demo\n    permissions: [read]\n"
		wantHash string
		wantErr  string
		wantWarn string
	}{
		{name: "sha256 hash", entry: "    key_hash: " + sha256Hex(long) + "\n", wantHash: sha256Hex(long)},
		{name: "bare hex without the sha256: prefix", entry: "    key_hash: " + strings.ToUpper(sha256Hex(long)[7:]) + "\n", wantErr: "t.yaml:11: api_keys[0].key_hash: " + needSHA},
		{name: "sha256 prefix, upper-case hex", entry: "    key_hash: sha256:" + strings.ToUpper(sha256Hex(long)[7:]) + "\n", wantHash: sha256Hex(long)},
		{name: "argon2id hash", entry: "    key_hash: \"" + argon + "\"\n", wantErr: "t.yaml:11: api_keys[0].key_hash: " + needSHA},
		{name: "unknown scheme", entry: "    key_hash: md5:abc\n", wantErr: "t.yaml:11: api_keys[0].key_hash: " + needSHA},
		{name: "malformed sha256", entry: "    key_hash: sha256:zz\n", wantErr: "t.yaml:11: api_keys[0].key_hash: not a valid hash: sha256 hash must be sha256: followed by 64 hex characters"},
		{name: "plain long key is hashed and warned", entry: "    key: " + long + "\n", wantHash: sha256Hex(long),
			wantWarn: "t.yaml:11: api_keys[0].key: plain key in the config file; store key_hash (latchkey secret hash) instead"},
		{name: "plain key of exactly 32 characters", entry: "    key: " + strings.Repeat("k", 32) + "\n", wantHash: sha256Hex(strings.Repeat("k", 32)),
			wantWarn: "t.yaml:11: api_keys[0].key: plain key in the config file; store key_hash (latchkey secret hash) instead"},
		{name: "plain key of 31 characters", entry: "    key: " + strings.Repeat("k", 31) + "\n", wantErr: "t.yaml:11: api_keys[0].key: " + tooShort},
		{name: "short plain key", entry: "    key: hunter2\n", wantErr: "t.yaml:11: api_keys[0].key: " + tooShort},
		{name: "both", entry: "    key: " + long + "\n    key_hash: " + sha256Hex(long) + "\n", wantErr: "t.yaml:11: api_keys[0].key: give either key_hash or key, not both"},
		{name: "neither", entry: "", wantErr: "t.yaml:8: api_keys[0]: an API key needs key_hash (from latchkey secret hash) or key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yml := base + "api_keys:\n  - id: ko_1\n    realm: rl_demo\n    permissions: [read]\n" + tc.entry
			s, err := Parse("t.yaml", []byte(yml), dir, nil)
			if tc.wantErr != "" {
				var errs Errors
				if !errors.As(err, &errs) || err.Error() != tc.wantErr {
					t.Fatalf("error:\n%v\nwant:\n%s", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), long) || strings.Contains(err.Error(), "hunter2") {
					t.Fatal("the message shows the key")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.APIKeys[0].KeyHash; got != tc.wantHash {
				t.Fatalf("KeyHash = %q, want %q", got, tc.wantHash)
			}
			if got := strings.Join(s.Warnings, "\n"); got != tc.wantWarn {
				t.Fatalf("warnings:\n%s\nwant:\n%s", got, tc.wantWarn)
			}
		})
	}
}

func TestAPIKeyDuplicates(t *testing.T) {
	long := secrethash.Generate()
	yml := base + `api_keys:
  - id: ko_1
    realm: rl_demo
    permissions: [read]
    key: ` + long + `
  - id: ko_2
    realm: rl_demo
    permissions: [read]
    key_hash: sha256:` + strings.ToUpper(sha256Hex(long)[7:]) + `
`
	_, err := Parse("t.yaml", []byte(yml), keyDir(t, ""), nil)
	want := "t.yaml:12: api_keys[1]: the same key as api_keys[0] (line 8); each API key must be different"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestLookupAPIKey(t *testing.T) {
	k1, k2 := secrethash.Generate(), secrethash.Generate()
	yml := base + `  - id: rl_two
api_keys:
  - id: ko_1
    realm: rl_demo
    permissions: [read]
    key_hash: ` + sha256Hex(k1) + `
  - id: ko_2
    realm: rl_two
    permissions: [read, write]
    key: ` + k2 + `
`
	s, err := Parse("t.yaml", []byte(yml), keyDir(t, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		presented, wantID string
	}{
		{k1, "ko_1"},
		{k2, "ko_2"}, // another realm's key is found just the same: the key names its realm
		{k1 + "x", ""},
		{k1[:len(k1)-1], ""},
		{strings.ToUpper(k1), ""},
		{"", ""},
		{sha256Hex(k1), ""}, // the hash is not the key
	} {
		got := s.LookupAPIKey(tc.presented)
		switch {
		case tc.wantID == "" && got != nil:
			t.Errorf("LookupAPIKey(%.12q…) = %s, want nil", tc.presented, got.ID)
		case tc.wantID != "" && (got == nil || got.ID != tc.wantID):
			t.Errorf("LookupAPIKey(%.12q…) = %v, want %s", tc.presented, got, tc.wantID)
		}
	}
	if got := s.LookupAPIKey(k2); got == nil || got.Realm != "rl_two" {
		t.Fatalf("ko_2's realm: %+v", got)
	}
}
