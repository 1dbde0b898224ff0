"""The only package that touches hardware: GPIO, sound cards, the bench rig's serial port."""
