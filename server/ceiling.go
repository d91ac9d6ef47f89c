//go:build !benchceiling

package server

import (
	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/core"
)

// ceilingRoutes adds the benchmark build's routes (tag benchceiling); a
// production build has none.
func (s *Server) ceilingRoutes(*gin.Engine, *core.Core) {}
