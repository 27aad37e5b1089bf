"""Cost plans and live status of a grid."""
