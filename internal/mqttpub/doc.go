// Package mqttpub publishes meter telegrams to an MQTT broker, the way
// cmd/MQTTPublisher does: one retained topic per number, the whole
// telegram as JSON, an online/offline status with a last will, and Home
// Assistant MQTT discovery.
//
// Topics, for the topic root "smarty" (Config.TopicRoot; "{meter}" in it
// becomes the meter id):
//
//	smarty/1-0:1.8.0        6.695   one topic per number: the value without padding or unit
//	smarty/1-1:31.4.0/1     100     objects with several numbers: one topic per number
//	smarty/0-1:24.2.1       12.345  M-Bus readings (gas, water, heat) the same way
//	smarty/telegram         {...}   the telegram as internal/format's JSON
//	smarty/status           online  "offline" as the last will and at a clean stop; retained
//	homeassistant/sensor/<meter id>/<object id>/config   discovery, retained
//
// Nothing blocks the reader: Publisher.Add queues a telegram (in memory, or
// on disk with Config.QueueDir) and returns; Publisher.Run, in its own
// goroutine, connects, publishes the queue oldest first and removes a
// telegram only once the broker has acknowledged all its messages. When
// the connection breaks, Run reconnects with capped exponential backoff,
// logging each change of state once, and the queue waits. Each connection
// is a fresh paho client with a clean session, so a broken connection
// fails every pending publication and the queue, not paho's in-memory
// store, decides what is sent again; the queue directory makes that
// survive a restart or a crash of the program.
package mqttpub
