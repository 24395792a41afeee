"""The Diia partner API: the client the kiosk calls, its errors, and the embedded sandbox."""
