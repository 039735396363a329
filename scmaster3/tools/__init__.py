"""Command-line tools: conversion, administration, sending and dumping messages."""
