"""Files shipped for users to read and copy: example reward functions and action spaces."""
