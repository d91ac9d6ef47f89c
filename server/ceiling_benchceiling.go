//go:build benchceiling

package server

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
)

var ceilingWarning sync.Once

// ceilingRoutes adds, in the benchmark build only (tag benchceiling),
// GET /bench/sign: one ES256 JWT signed by the active configuration's
// first ES256 key per request, the stack's ceiling for a signed token
// through gin, measured by bench/run.sh beside the real scenarios.
func (s *Server) ceilingRoutes(e *gin.Engine, cr *core.Core) {
	ceilingWarning.Do(func() {
		s.log.Warn("benchmark build (tag benchceiling): issued tokens are NOT stored and GET /bench/sign signs for anyone; never run it for real")
	})
	e.GET("/bench/sign", func(c *gin.Context) {
		var id [16]byte
		_, _ = rand.Read(id[:])
		now := cr.Now()
		tok, err := cr.SignJWT(config.AlgES256, map[string]any{"iss": cr.Snapshot().Issuer, "sub": "bench", "iat": now.Unix(),
			"exp": now.Unix() + 60, "jti": hex.EncodeToString(id[:])})
		if err != nil {
			c.String(http.StatusInternalServerError, "no ES256 key: %v", err)
			return
		}
		c.String(http.StatusOK, tok)
	})
}
