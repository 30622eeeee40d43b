package httpapi

import (
	"os"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/internal/clienttest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	clienttest.StopChromium() // the browser the page's tests share
	os.Exit(code)
}
