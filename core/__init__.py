"""The shared kernel: small types and helpers every app may use. Imports no app and holds no
personal data, so it sits at the bottom of the layer stack (see docs/design.md)."""
