package main

import (
	"io"
	"log/slog"
	"time"

	"github.com/lmittmann/tint"
	"github.com/mattn/go-isatty"
)

// newLogger builds the process's logger on w (standard error): format is
// log_format, "auto" (human-readable text when w is a terminal, JSON for a
// log collector otherwise), "json" or "text"; level is log_level.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	return slog.New(logHandler(w, level, format, isTerminal(w)))
}

// logHandler chooses the handler; terminal says whether w is one (colours
// only then).
func logHandler(w io.Writer, level, format string, terminal bool) slog.Handler {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo // config.Validate has refused anything else
	}
	if format == "text" || (format != "json" && terminal) {
		return tint.NewHandler(w, &tint.Options{Level: l, TimeFormat: time.TimeOnly, NoColor: !terminal})
	}
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
