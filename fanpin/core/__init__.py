"""The bottom layer: months, number formats, ID numbers, the indicator catalogue and the message catalogue. Imports nothing else of fanpin."""
