module github.com/NEXXTLAB/go-smarty-reader

go 1.26.0

require (
	github.com/creack/pty v1.1.24
	github.com/eclipse/paho.mqtt.golang v1.5.1
	github.com/golang/glog v1.2.5
	github.com/google/go-cmp v0.7.0
	github.com/gorilla/websocket v1.5.3
	go.bug.st/serial v1.8.0
	golang.org/x/term v0.48.0
)

require (
	golang.org/x/net v0.44.0 // indirect
	golang.org/x/sync v0.17.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
