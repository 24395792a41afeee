"""Small recording fakes for the outermost seams."""
