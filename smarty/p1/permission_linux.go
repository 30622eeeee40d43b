package p1

// permissionHint says how to get the right to open a serial port.
const permissionHint = "add your user to the dialout group (sudo usermod -aG dialout $USER, then log in again)"
