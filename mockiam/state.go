package mockiam

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// state is what the mock keeps in Config.StateFile: the bindings of
// partner accounts to mock Huawei Cloud accounts, so that a demo restarted
// on the same data directory agrees with the IdP's database.
type state struct {
	// Bindings maps an xAccountId to its Huawei Cloud account.
	Bindings map[string]binding `json:"bindings"`
}

// loadState reads StateFile, if set and present.
func (s *Server) loadState() error {
	if s.cfg.StateFile == "" {
		return nil
	}
	b, err := os.ReadFile(s.cfg.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mockiam: state: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("mockiam: state %s: %w", s.cfg.StateFile, err)
	}
	for id, bd := range st.Bindings {
		if id == "" || bd.DomainID == "" {
			return fmt.Errorf("mockiam: state %s: a binding without an account", s.cfg.StateFile)
		}
		s.bindings[id] = bd
	}
	return nil
}

// setBinding binds xAccountID to b (nil unbinds) and saves the state.
func (s *Server) setBinding(xAccountID string, b *binding) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.bindings[xAccountID]
	if b == nil {
		delete(s.bindings, xAccountID)
	} else {
		s.bindings[xAccountID] = *b
	}
	if err := s.saveLocked(); err != nil {
		if had {
			s.bindings[xAccountID] = old
		} else {
			delete(s.bindings, xAccountID)
		}
		s.log.Error("cannot save the mock IAM's bindings", "file", s.cfg.StateFile, "err", err)
		return err
	}
	return nil
}

// saveLocked writes StateFile atomically: a temporary file in the same
// directory, synced, then renamed over the old one. s.mu must be held.
func (s *Server) saveLocked() error {
	if s.cfg.StateFile == "" {
		return nil
	}
	b, err := json.MarshalIndent(state{Bindings: s.bindings}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.cfg.StateFile), ".mockiam-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.cfg.StateFile)
}
