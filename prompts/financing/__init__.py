"""The financing application's words: chat questions here, web pages as templates."""
