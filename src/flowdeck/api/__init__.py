"""The HTTP side of Flowdeck: the app factory and its routes."""
