// Package cmdtest gives tests the project's commands as programs, built
// from the tree under test, the way a user runs them.
//
// Linking a command takes about a second of CPU, and a dozen test packages
// run commands: each of them building its own copies made up a large part
// of go test ./.... Here a command is linked once for the sources it is
// made of and kept in a cache directory (under [os.UserCacheDir]), keyed by
// the build cache's IDs of every package it links (so by its sources, its
// dependencies' sources and the toolchain), and by the environment that
// steers the build. Every test package, and every later run on the same
// sources, reuses it; a change to any source it is made of builds a new
// one. The cache keeps the few most recently used builds of each command.
//
// A test gets its own hard link to the cached program (a copy where links
// do not work) in a temporary directory of the test, so that the cache may
// be trimmed by another test process at any time.
package cmdtest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Module is the import path of the module whose commands are built.
const Module = "github.com/NEXXTLAB/go-smarty-reader"

// keep is how many builds of each command the cache keeps: enough for a
// few work trees with different sources tested side by side.
const keep = 6

// buildEnv are the environment variables that steer a build beyond what
// the build cache's IDs of the packages already say.
var buildEnv = []string{"GOFLAGS", "CGO_ENABLED", "GOEXPERIMENT", "GOOS", "GOARCH", "GOAMD64", "GOARM", "GOARM64", "CC", "CGO_LDFLAGS", "GOROOT", "GOTOOLCHAIN"}

var keys struct {
	once sync.Once
	keys map[string]string // command name -> key
	err  error
}

// commandKeys lists the packages every command links, once per test
// process, and returns a key per command: a hash of the build IDs of all
// of them (which the go command computes from their sources, flags and
// toolchain) and of buildEnv.
func commandKeys() (map[string]string, error) {
	keys.once.Do(func() {
		// Export is the package's compiled archive in the build cache,
		// named by the hash of its content; -deps lists every package a
		// command links.
		cmd := exec.Command("go", "list", "-export", "-deps",
			"-f", `{{.ImportPath}}	{{.Export}}	{{if eq .Name "main"}}{{join .Deps " "}}{{end}}`,
			Module+"/cmd/...")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			keys.err = fmt.Errorf("go list of the commands: %v\n%s", err, stderr.Bytes())
			return
		}
		export := map[string]string{}
		deps := map[string][]string{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Split(sc.Text(), "\t")
			if len(f) != 3 {
				continue
			}
			export[f[0]] = f[1]
			if f[2] != "" {
				deps[f[0]] = strings.Fields(f[2])
			}
		}
		var env strings.Builder
		fmt.Fprintf(&env, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		for _, v := range buildEnv {
			fmt.Fprintf(&env, "%s=%s\n", v, os.Getenv(v))
		}
		keys.keys = map[string]string{}
		for pkg := range deps {
			name, ok := strings.CutPrefix(pkg, Module+"/cmd/")
			if !ok || strings.Contains(name, "/") {
				continue
			}
			h := sha256.New()
			io.WriteString(h, env.String())
			all := append([]string{pkg}, deps[pkg]...)
			sort.Strings(all)
			for _, p := range all {
				fmt.Fprintf(h, "%s %s\n", p, filepath.Base(export[p]))
			}
			keys.keys[name] = hex.EncodeToString(h.Sum(nil))[:24]
		}
	})
	return keys.keys, keys.err
}

// cacheDir is where the builds are kept.
func cacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "go-smarty-reader", "commands")
}

func exe(name string) string {
	if runtime.GOOS == "windows" {
		return name + ".exe"
	}
	return name
}

// cached returns the path of the cached build of the command name,
// building it first when the cache has none for the current sources.
func cached(name string) (string, error) {
	ks, err := commandKeys()
	if err != nil {
		return "", err
	}
	key, ok := ks[name]
	if !ok {
		return "", fmt.Errorf("cmdtest: no command %s under cmd/", name)
	}
	dir := cacheDir()
	path := filepath.Join(dir, name+"-"+key, exe(name))
	if _, err := os.Stat(path); err == nil {
		now := time.Now()
		os.Chtimes(filepath.Dir(path), now, now) // most recently used
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	// Built under a name of its own, then renamed: test processes that
	// build the same command at once each get a whole program.
	tmp, err := os.CreateTemp(filepath.Dir(path), exe(name)+".tmp*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	// -buildvcs=false: the program depends on the sources only, not on
	// the commit or on files that no command is built from.
	out, err := exec.Command("go", "build", "-buildvcs=false", "-o", tmp.Name(), Module+"/cmd/"+name).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building %s: %v\n%s", name, err, out)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		if _, serr := os.Stat(path); serr != nil {
			return "", err
		}
	}
	trim(dir, name)
	return path, nil
}

// trim removes the builds of the command name beyond the keep most
// recently used.
func trim(dir, name string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type build struct {
		path string
		used time.Time
	}
	var builds []build
	for _, e := range entries {
		if rest, ok := strings.CutPrefix(e.Name(), name+"-"); !ok || strings.Contains(rest, "-") {
			continue
		}
		if fi, err := e.Info(); err == nil {
			builds = append(builds, build{filepath.Join(dir, e.Name()), fi.ModTime()})
		}
	}
	if len(builds) <= keep {
		return
	}
	sort.Slice(builds, func(i, j int) bool { return builds[i].used.After(builds[j].used) })
	for _, b := range builds[keep:] {
		os.RemoveAll(b.path)
	}
}

// place puts the command name into dir, as a hard link to the cached
// build, or a copy.
func place(dir, name string) (string, error) {
	dst := filepath.Join(dir, exe(name))
	for try := 0; ; try++ {
		src, err := cached(name)
		if err != nil {
			return "", err
		}
		err = os.Link(src, dst)
		if err == nil {
			return dst, nil
		}
		if errors.Is(err, fs.ErrNotExist) && try == 0 {
			continue // trimmed by another process just now: build it again
		}
		// Another file system, or no hard links: copy it.
		if err := copyFile(src, dst); err != nil {
			return "", err
		}
		return dst, nil
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Path returns the path of the command name (SmartySimulator, ...), built
// from this tree, in a temporary directory of tb.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	p, err := place(tb.TempDir(), name)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// Dir returns a temporary directory of tb holding the named commands, or
// all of those under cmd/ when none is named: a directory to put first on
// a PATH.
func Dir(tb testing.TB, names ...string) string {
	tb.Helper()
	if len(names) == 0 {
		ks, err := commandKeys()
		if err != nil {
			tb.Fatal(err)
		}
		for n := range ks {
			names = append(names, n)
		}
		if len(names) == 0 {
			tb.Fatal("cmdtest: no commands under cmd/")
		}
	}
	dir := tb.TempDir()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() { _, errs[i] = place(dir, n) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tb.Fatal(err)
	}
	return dir
}
