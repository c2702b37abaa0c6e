import streamlit as st

st.title("fixed-income")
