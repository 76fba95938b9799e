package server

import (
	"net/http"
	"slices"

	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/tenant"
	"github.com/reprise-wasm/reprise/wire"
)

// putFunction deploys the body (Wasm bytes) as a new version of {name}.
func (s *Server) putFunction(w http.ResponseWriter, r *http.Request, h Host) {
	name := r.PathValue("name")
	if err := checkName("function name", name); err != nil {
		writeError(w, r, err)
		return
	}
	if err := requireType(r, "application/wasm", "application/octet-stream"); err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.admitDeploy(w, r); err != nil {
		writeError(w, r, err)
		return
	}
	wasm, err := readBody(w, r, tenantOf(r).Limits.ModuleSize, tenant.LimitModuleSize)
	if err != nil {
		writeError(w, r, err)
		return
	}
	f, err := h.Deploy(r.Context(), name, wasm, r.URL.Query().Get("entry"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.log.Info("deployed", "function", f.Name, "version", f.Version, "module", f.Module, "tenant", tenantID(r))
	writeJSON(w, http.StatusCreated, functionToWire(f))
}

func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request, h Host) {
	fs, err := h.Functions(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := wire.FunctionList{Functions: make([]wire.Function, 0, len(fs))}
	for _, f := range fs {
		out.Functions = append(out.Functions, functionToWire(f))
	}
	writeJSON(w, http.StatusOK, out)
}

// getFunction filters the list: the host has no single lookup, and a
// tenant has few functions.
func (s *Server) getFunction(w http.ResponseWriter, r *http.Request, h Host) {
	name := r.PathValue("name")
	if err := checkName("function name", name); err != nil {
		writeError(w, r, err)
		return
	}
	fs, err := h.Functions(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	i := slices.IndexFunc(fs, func(f store.Function) bool { return f.Name == name })
	if i < 0 {
		writeError(w, r, apiError(http.StatusNotFound, codeNotFound, "no function %q is deployed", name))
		return
	}
	writeJSON(w, http.StatusOK, functionToWire(fs[i]))
}

// deleteFunction unbinds {name}; executions already started are pinned to
// their module and carry on.
func (s *Server) deleteFunction(w http.ResponseWriter, r *http.Request, h Host) {
	name := r.PathValue("name")
	if err := checkName("function name", name); err != nil {
		writeError(w, r, err)
		return
	}
	if err := h.DeleteFunction(r.Context(), name); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
