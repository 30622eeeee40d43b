package cmdtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPath: the program runs, and a second call gets the same build from
// the cache.
func TestPath(t *testing.T) {
	p := Path(t, "SmartySimulator")
	out, err := exec.Command(p, "-version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "SmartySimulator ") {
		t.Fatalf("SmartySimulator -version: %v, %q", err, out)
	}
	first, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	again, err := os.Stat(Path(t, "SmartySimulator"))
	if err != nil {
		t.Fatal(err)
	}
	if !first.ModTime().Equal(again.ModTime()) || first.Size() != again.Size() {
		t.Errorf("the second Path built again: %v %d, then %v %d", first.ModTime(), first.Size(), again.ModTime(), again.Size())
	}
}

func TestDir(t *testing.T) {
	dir := Dir(t)
	for _, name := range []string{"MQTTPublisher", "OfflineDecryption", "OnlineDecryption", "SmartyGateway", "SmartySimulator"} {
		if fi, err := os.Stat(filepath.Join(dir, exe(name))); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := place(t.TempDir(), "NoSuchCommand"); err == nil {
		t.Error("a command that is not under cmd/ was built")
	}
}

// TestTrim: the keep most recently used builds of a command stay, the
// others go, and other commands' builds are left alone.
func TestTrim(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	mk := func(name string, age time.Duration) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var builds []string
	for i := range keep + 3 {
		builds = append(builds, mk(fmt.Sprintf("Tool-%024x", i), time.Duration(i)*time.Hour))
	}
	other := mk("Tool-Extra-000000000000000000000000", 100*time.Hour)
	trim(dir, "Tool")
	for i, b := range builds {
		_, err := os.Stat(b)
		if kept := err == nil; kept != (i < keep) {
			t.Errorf("build %d hours old: kept %v", i, kept)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another command's build was removed: %v", err)
	}
}
