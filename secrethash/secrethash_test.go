package secrethash

import (
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	tests := []struct {
		name, secret, prefix string
	}{
		{"generated secret uses sha256", Generate(), "sha256:"},
		{"32 characters uses sha256", strings.Repeat("x", 32), "sha256:"},
		{"31 characters uses argon2id", strings.Repeat("x", 31), "$argon2id$"},
		{"short human secret uses argon2id", "hunter2", "$argon2id$"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Hash(tc.secret)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(h, tc.prefix) {
				t.Fatalf("hash %q: want prefix %q", h, tc.prefix)
			}
			if err := Check(h); err != nil {
				t.Fatalf("Check(%q): %v", h, err)
			}
			if ok, err := Verify(h, tc.secret); !ok || err != nil {
				t.Fatalf("Verify(right secret) = %v, %v", ok, err)
			}
			if ok, err := Verify(h, tc.secret+"x"); ok || err != nil {
				t.Fatalf("Verify(wrong secret) = %v, %v", ok, err)
			}
		})
	}
}

func TestVerifyRejectsMalformedHash(t *testing.T) {
	for _, h := range []string{"", "plain", "sha256:zz", "sha256:abcd", "$argon2i$v=19$m=1,t=1,p=1$x$y"} {
		if ok, err := Verify(h, "secret"); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want false and an error", h, ok, err)
		}
		if Check(h) == nil {
			t.Errorf("Check(%q) accepted a malformed hash", h)
		}
	}
}

func TestGenerate(t *testing.T) {
	a, b := Generate(), Generate()
	if a == b || len(a) != 3+43 || !strings.HasPrefix(a, "lk_") {
		t.Fatalf("Generate() = %q, %q", a, b)
	}
}
